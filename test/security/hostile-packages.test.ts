// Hostile packages against the unpacker and against the engine's fault texts. A package tries to
// leave its root through chains of links (a link that climbs through another link, one made before
// the link it climbs through, one hard-linked into another directory, names that fool a text
// listing of a SquashFS image), or to get a host file's content, or the host's paths, into a fault
// a controller reads (a manifest that is a link to the file, a manifest that quotes it, a service
// that does not exist, an image unsquashfs can't read). The host owns a canary with random content:
// it must be in no fault, no unit's state or log and no line the engine logs at any level, and
// nothing may change beside a refused package's target.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { type TestContext, test } from 'node:test';
import { type DuResult, Engine } from '../../src/engine/engine.js';
import { EngineCode, EngineError } from '../../src/engine/errors.js';
import { readManifest, unpackPackage } from '../../src/engine/package/unpack.js';
import { runTool } from '../../src/engine/tool.js';
import { createLogger } from '../../src/util/logger.js';
import { type Entry, manifest, tarGz } from '../engine/tar-builder.js';
import { requireRoot, requireTool, tempDir, waitFor } from '../helpers.js';
import { serveFiles } from '../http-files.js';

const limits = { maxBytes: 1024 * 1024, maxEntries: 1000 };
/** The longest fault text the engine makes. */
const MAX_FAULT = 256;

/** The package was refused as corrupt data (7035); its message. */
async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof EngineError, String(e));
    assert.equal(e.code, EngineCode.CorruptData, e.message);
    return e.message;
  }
  throw new Error('the package was not refused');
}

/**
 * Every path under dir except those inside target, with its kind and size: what a refused package must
 * leave as it was.
 */
function outside(dir: string, target: string): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    if (p === target) return;
    const st = lstatSync(p);
    out.push(`${p} ${st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'dir' : 'file'} ${st.isFile() ? st.size : ''}`);
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
  };
  walk(dir);
  return out.sort();
}

/** A fresh target two levels below dir, so that a link climbing one or two levels out still lands in dir. */
function target(dir: string, name: string): string {
  const t = join(dir, name, 'deep', 'out');
  mkdirSync(t, { recursive: true });
  return t;
}

/** mksquashfs for building images, and root for mounting them (native EE); skipped loudly without them unless CI. */
function requireSquashfs(t: TestContext, mount: boolean): boolean {
  return requireTool(t, 'mksquashfs', 'unsquashfs') && (!mount || requireRoot(t, 'mounting images needs root'));
}

/** A SquashFS image of a directory holding a good manifest, shaped further by build. */
function squashfs(dir: string, name: string, build: (src: string) => void): string {
  const src = join(dir, `${name}-src`);
  mkdirSync(src);
  writeFileSync(join(src, 'manifest.json'), manifest());
  build(src);
  const out = join(dir, `${name}.sqfs`);
  execFileSync('mksquashfs', [src, out, '-all-root', '-noappend', '-quiet']);
  return out;
}

/** The host's canary: a root-only file of random content, and a test for any 8 characters of it in a text. */
function canary(dir: string): { path: string; text: string; leaks: (s: string) => boolean } {
  const secret = randomBytes(24).toString('hex');
  const path = join(dir, 'host-secret');
  // A letter first: JSON.parse quotes the start of what it can't parse.
  const text = `z${secret}\n`;
  writeFileSync(path, text, { mode: 0o600 });
  const leaks = (s: string): boolean => {
    for (let i = 0; i + 8 <= secret.length; i++) if (s.includes(secret.slice(i, i + 8))) return true;
    return false;
  };
  return { path, text, leaks };
}

type Defer = (fn: () => unknown) => void;

/** A test's cleanups, run last-registered first (services and mounts go before their directory does). */
function cleanups(t: TestContext): Defer {
  const fns: (() => unknown)[] = [];
  t.after(async () => {
    for (const fn of fns.reverse()) await fn();
  });
  return (fn) => {
    fns.push(fn);
  };
}

/** An engine on the native EE whose every log line, at every level, is kept; its DUs go at the end. */
async function engineWithLog(defer: Defer, stateDir: string): Promise<{ engine: Engine; log: () => string }> {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const engine = new Engine({ stateDir, logger: createLogger('trace', sink), shutdownGraceMs: 1000 });
  defer(async () => {
    for (const d of engine.deploymentUnits()) await engine.uninstall(d.duid, 'cleanup');
  });
  await engine.start();
  return { engine, log: () => lines.join('') };
}

test(
  'a tar.gz whose links climb out through other links is refused, and nothing changes outside its ' + 'target',
  async () => {
    const cases: [string, Entry[]][] = [
      [
        'a link that climbs through a link',
        [
          { name: 'd/', type: '5' },
          { name: 'd/up', type: '2', link: '..' },
          { name: 'd/out', type: '2', link: 'up/..' },
        ],
      ],
      [
        'a link made before the link it climbs through',
        [
          { name: 'esc', type: '2', link: 'd/x/../..' },
          { name: 'd/', type: '5' },
          { name: 'd/x', type: '2', link: '..' },
        ],
      ],
      [
        'a link hard-linked into another directory',
        [
          { name: 'a/b/', type: '5' },
          { name: 'a/b/s', type: '2', link: '../..' },
          { name: 'h', type: '1', link: 'a/b/s' },
        ],
      ],
      [
        'files under a chain of links',
        [
          { name: 'd/', type: '5' },
          { name: 'd/up', type: '2', link: '..' },
          { name: 'd/up/up', type: '2', link: '..' },
          { name: 'd/up/up/up/evil', data: 'x' },
        ],
      ],
    ];
    for (const [what, entries] of cases) {
      const { dir, cleanup } = tempDir('cpe-chain-');
      try {
        const file = join(dir, 'pkg.tgz');
        writeFileSync(file, tarGz([{ name: 'manifest.json', data: manifest() }, ...entries]));
        const out = target(dir, 'pkg');
        const before = outside(dir, out);
        const msg = await refusal(unpackPackage(file, out, limits));
        assert.match(msg, /link/, `${what}: the refusal names a link`);
        assert.ok(msg.length <= MAX_FAULT, what);
        assert.deepEqual(outside(dir, out), before, `${what}: nothing changed outside the target`);
      } finally {
        cleanup();
      }
    }
  },
);

test(
  'SquashFS links are checked on the real tree: names with " -> " fool nothing, unpacked (LXC EEs) or mounted ' +
    '(native EE)',
  async (t) => {
    if (!requireSquashfs(t, true)) return;
    const defer = cleanups(t);
    const { dir, cleanup } = tempDir('cpe-sqfs-');
    defer(cleanup);
    const hostile: Record<string, string> = {
      // A link named 'l -> ok' to /etc lists as "/l -> ok -> /etc".
      'absolute.sqfs': squashfs(dir, 'absolute', (s) => symlinkSync('/etc', join(s, 'l -> ok'))),
      'climbing.sqfs': squashfs(dir, 'climbing', (s) => symlinkSync('../../../../etc', join(s, 'up -> x'))),
      'chain.sqfs': squashfs(dir, 'chain', (s) => {
        mkdirSync(join(s, 'd'));
        symlinkSync('..', join(s, 'd', 'up'));
        symlinkSync('d/up/..', join(s, 'out'));
      }),
    };
    // Arrows in the names of a file and of a link that stays inside are nothing to refuse.
    const arrows = squashfs(dir, 'arrows', (s) => {
      writeFileSync(join(s, 'x -> etc'), 'a file');
      symlinkSync('x -> etc', join(s, 'y -> z'));
    });

    for (const [name, image] of Object.entries(hostile)) {
      const out = target(dir, `${name}-target`);
      const before = outside(dir, out);
      assert.match(await refusal(unpackPackage(image, out, limits)), /link/, `${name} unpacked`);
      assert.deepEqual(outside(dir, out), before, `${name}: nothing changed outside the target`);
    }
    const good = await unpackPackage(arrows, target(dir, 'arrows'), limits);
    assert.equal(good.manifest.name, 'hello');

    const http = await serveFiles({
      ...Object.fromEntries(Object.entries(hostile).map(([n, f]) => [n, execFileSync('cat', [f])])),
      'arrows.sqfs': execFileSync('cat', [arrows]),
    });
    defer(() => http.close());
    const { engine } = await engineWithLog(defer, join(dir, 'state'));
    for (const name of Object.keys(hostile)) {
      const r = await engine.install({ url: http.url(name), ee: 'native', requestTag: name });
      assert.equal(r.fault?.code, EngineCode.CorruptData, `${name} mounted: ${r.fault?.message}`);
      assert.match(r.fault!.message, /link/, name);
    }
    assert.deepEqual(readdirSync(join(dir, 'state', 'engine', 'du')), [], 'refused images are unmounted and gone');
    const ok = await engine.install({ url: http.url('arrows.sqfs'), ee: 'native', requestTag: 'arrows' });
    assert.equal(ok.fault, undefined, ok.fault?.message);
  },
);

test('an Update to a hostile SquashFS image is refused before the installed one is touched (native EE)', async (t) => {
  if (!requireSquashfs(t, true)) return;
  const defer = cleanups(t);
  const { dir, cleanup } = tempDir('cpe-sqfs-update-');
  defer(cleanup);
  const version = (name: string, v: string, build: (src: string) => void = () => undefined) =>
    squashfs(dir, name, (s) => {
      writeFileSync(join(s, 'manifest.json'), manifest({ version: v, services: [{ name: 'web', command: 'run.sh' }] }));
      writeFileSync(join(s, 'run.sh'), "#!/bin/sh\ntrap 'exit 0' TERM\nwhile true; do sleep 0.1; done\n", {
        mode: 0o755,
      });
      build(s);
    });
  const files = {
    'v1.sqfs': version('v1', '1.0'),
    'v2-chain.sqfs': version('v2-chain', '2.0', (s) => {
      mkdirSync(join(s, 'd'));
      symlinkSync('..', join(s, 'd', 'up'));
      symlinkSync('d/up/..', join(s, 'out'));
    }),
    'v2.sqfs': version('v2', '2.0'),
  };
  const http = await serveFiles(
    Object.fromEntries(Object.entries(files).map(([n, f]) => [n, execFileSync('cat', [f])])),
  );
  defer(() => http.close());
  const stateDir = join(dir, 'state');
  const { engine } = await engineWithLog(defer, stateDir);
  const v1 = await engine.install({ url: http.url('v1.sqfs'), ee: 'native', requestTag: 'v1' });
  assert.equal(v1.fault, undefined, v1.fault?.message);
  const euid = v1.euids[0]!;
  await waitFor(() => engine.unitState(euid)?.status === 'Active');
  const pid = engine.unitState(euid)!.pid;

  const hostile = await engine.update(v1.duid!, { url: http.url('v2-chain.sqfs'), requestTag: 'v2-chain' });
  assert.equal(hostile.fault?.code, EngineCode.CorruptData, hostile.fault?.message);
  assert.match(hostile.fault!.message, /link/);
  assert.equal(engine.du(v1.duid!)!.manifest.version, '1.0');
  assert.equal(engine.unitState(euid)!.pid, pid, 'the installed service ran on, untouched');
  assert.match(
    readFileSync(join(engine.du(v1.duid!)!.root, 'manifest.json'), 'utf8'),
    /"version":"1.0"/,
    'the installed image is still mounted',
  );
  assert.deepEqual(
    readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => l.includes(join(stateDir, 'engine', 'tmp'))),
    [],
    'nothing is left mounted in staging',
  );

  const v2 = await engine.update(v1.duid!, { url: http.url('v2.sqfs'), requestTag: 'v2' });
  assert.equal(v2.fault, undefined, v2.fault?.message);
  assert.equal(engine.du(v1.duid!)!.manifest.version, '2.0');
  await waitFor(() => engine.unitState(euid)?.status === 'Active');
});

test(
  "a host file's content reaches no fault, no unit and no log line: manifests that link to it or quote " + 'it',
  async (t) => {
    const defer = cleanups(t);
    const { dir, cleanup } = tempDir('cpe-canary-');
    defer(cleanup);
    const c = canary(dir);
    const secret = c.text.trim();
    const svc = [{ name: 'bin/run.sh', data: '#!/bin/sh\nsleep 100\n', mode: 0o755 }];
    const files: Record<string, Buffer> = {
      'link.tgz': tarGz([{ name: 'manifest.json', type: '2', link: c.path }]),
      'relative-link.tgz': tarGz([{ name: 'manifest.json', type: '2', link: `../../../../../../../../..${c.path}` }]),
      'copied.tgz': tarGz([{ name: 'manifest.json', data: c.text }]),
      'quoted-after-json.tgz': tarGz([{ name: 'manifest.json', data: `${manifest()}\n${c.text}` }]),
      'name.tgz': tarGz([{ name: 'manifest.json', data: manifest({ name: `${secret}!` }) }]),
      'vendor.tgz': tarGz([{ name: 'manifest.json', data: manifest({ vendor: `${secret} x` }) }]),
      'version.tgz': tarGz([{ name: 'manifest.json', data: manifest({ version: `${secret}/1` }) }]),
      'field.tgz': tarGz([{ name: 'manifest.json', data: manifest({ [secret]: 1 }) }]),
      'service-field.tgz': tarGz([
        { name: 'manifest.json', data: manifest({ services: [{ name: 'web', command: 'bin/run.sh', [secret]: 1 }] }) },
        ...svc,
      ]),
      'volume.tgz': tarGz([
        {
          name: 'manifest.json',
          data: manifest({ data: [{ name: 'v', capacity: 1, accessPath: `/opt/${secret}/../x` }] }),
        },
        ...svc,
      ]),
      'garbage.sqfs': Buffer.concat([Buffer.from('hsqs'), randomBytes(4096)]),
      // Installs, and its service can't start: the unit's fault must not quote the command either.
      'command.tgz': tarGz([
        { name: 'manifest.json', data: manifest({ services: [{ name: 'web', command: `bin/${secret}` }] }) },
      ]),
    };
    const http = await serveFiles(files);
    defer(() => http.close());
    const { engine, log } = await engineWithLog(defer, join(dir, 'state'));
    const results: DuResult[] = [];
    engine.on('result', (r) => results.push(r));
    for (const name of Object.keys(files)) {
      const r = await engine.install({ url: http.url(name), ee: 'native', requestTag: name });
      if (name === 'command.tgz') {
        assert.equal(r.fault, undefined, r.fault?.message);
        continue;
      }
      assert.ok(r.fault, `${name} is refused`);
      assert.ok(
        ([EngineCode.CorruptData, EngineCode.InvalidArguments] as string[]).includes(r.fault.code),
        `${name}: ${r.fault.code} ${r.fault.message}`,
      );
    }
    const command = results.find((r) => r.requestTag === 'command.tgz')!;
    const euid = command.euids[0]!;
    await waitFor(() => engine.unitState(euid)?.fault !== 'NoFault');
    const unit = engine.unitState(euid)!;
    for (const r of results) {
      const msg = r.fault?.message ?? '';
      assert.ok(msg.length <= MAX_FAULT, `${r.requestTag}: a fault of ${msg.length} characters`);
      assert.ok(!c.leaks(msg), `${r.requestTag}: the canary is in the fault: ${msg}`);
      assert.ok(!msg.includes(dir), `${r.requestTag}: a host path is in the fault: ${msg}`);
    }
    assert.ok(
      !c.leaks(unit.faultMessage) && !unit.faultMessage.includes(dir),
      `the unit's fault says only ours: ${unit.faultMessage}`,
    );
    assert.ok(unit.faultMessage.length <= MAX_FAULT);
    assert.ok(!c.leaks(engine.unitLog(euid)), 'the canary is in the unit log');
    assert.ok(log().length > 0, 'the engine logged');
    assert.ok(
      !c.leaks(log()),
      `the canary is in a log line: ${log()
        .split('\n')
        .filter((l) => c.leaks(l))
        .map((l) => l.slice(0, 300))
        .join('\n')}`,
    );
    assert.deepEqual(
      engine.deploymentUnits().map((d) => d.manifest.name),
      ['hello'],
      'only the package with a good manifest is installed',
    );
  },
);

test(
  'a SquashFS manifest that links to a host file is refused unpacked and mounted, its content ' + 'nowhere',
  async (t) => {
    if (!requireSquashfs(t, true)) return;
    const defer = cleanups(t);
    const { dir, cleanup } = tempDir('cpe-canary-sqfs-');
    defer(cleanup);
    const c = canary(dir);
    const image = squashfs(dir, 'link', (s) => {
      execFileSync('rm', [join(s, 'manifest.json')]);
      symlinkSync(c.path, join(s, 'manifest.json'));
    });
    const msg = await refusal(unpackPackage(image, target(dir, 'unpacked'), limits));
    assert.ok(!c.leaks(msg) && !msg.includes(dir), msg);
    const http = await serveFiles({ 'link.sqfs': execFileSync('cat', [image]) });
    defer(() => http.close());
    const { engine, log } = await engineWithLog(defer, join(dir, 'state'));
    const r = await engine.install({ url: http.url('link.sqfs'), ee: 'native', requestTag: 'link' });
    assert.equal(r.fault?.code, EngineCode.CorruptData, r.fault?.message);
    assert.ok(!c.leaks(r.fault!.message) && !r.fault!.message.includes(dir), r.fault!.message);
    assert.ok(!c.leaks(log()), 'the canary is in a log line');
  },
);

test('a manifest that is a link, a FIFO, a directory, too big or missing is refused, saying which', async () => {
  const { dir, cleanup } = tempDir('cpe-manifest-');
  try {
    const cases: [string, (m: string) => void, RegExp][] = [
      [
        'link',
        (m) => {
          writeFileSync(join(dir, 'link', 'other.json'), manifest());
          symlinkSync('other.json', m);
        },
        /manifest\.json is a symbolic link/,
      ],
      ['fifo', (m) => execFileSync('mkfifo', [m]), /manifest\.json is not a regular file/],
      ['directory', (m) => mkdirSync(m), /manifest\.json is not a regular file/],
      [
        'big',
        (m) => writeFileSync(m, `${' '.repeat(300 * 1024)}${manifest()}`),
        /manifest\.json is larger than 262144 bytes/,
      ],
      ['missing', () => undefined, /no manifest\.json/],
    ];
    for (const [what, make, re] of cases) {
      mkdirSync(join(dir, what));
      make(join(dir, what, 'manifest.json'));
      const msg = await refusal(readManifest(join(dir, what)));
      assert.match(msg, re, what);
      assert.ok(!msg.includes(dir), `${what}: a host path in ${msg}`);
    }
    // The same through a package: a link to a file inside it is still not a manifest.
    const file = join(dir, 'pkg.tgz');
    writeFileSync(
      file,
      tarGz([
        { name: 'real.json', data: manifest() },
        { name: 'manifest.json', type: '2', link: 'real.json' },
      ]),
    );
    assert.match(await refusal(unpackPackage(file, target(dir, 'pkg'), limits)), /manifest\.json is a symbolic link/);
  } finally {
    cleanup();
  }
});

test(
  'faults are in our words and bounded: a failing tool names itself, not its command line, host paths or what ' +
    'it printed',
  async () => {
    const { dir, cleanup } = tempDir('cpe-tool-');
    try {
      const missing = join(dir, `secret-${randomBytes(8).toString('hex')}`);
      const err = await runTool('ls', [missing]).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof EngineError, String(err));
      assert.match(err.message, /\bls\b/);
      assert.ok(!err.message.includes(dir) && !err.message.includes('No such file'), err.message);
      assert.ok(new EngineError(EngineCode.InternalError, 'x'.repeat(10_000)).message.length <= MAX_FAULT);
    } finally {
      cleanup();
    }
  },
);
