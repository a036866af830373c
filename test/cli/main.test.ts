import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot, requireTool, tempDir } from '../helpers.js';

const bin = join(repoRoot, 'dist/src/cli/main.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

test('every subcommand answers --help', () => {
  const top = cli('--help');
  assert.equal(top.status, 0);
  const names = [...top.stdout.matchAll(/^ {2}([a-z-]+) {2}/gm)].map((m) => m[1]!);
  assert.ok(names.includes('run') && names.includes('dm-import'));
  for (const n of names) {
    const r = cli(n, '--help');
    assert.equal(r.status, 0, n);
    assert.match(r.stdout, new RegExp(`Usage: cpe-agent ${n}`));
  }
});

test('usage errors name the problem and exit 2', () => {
  const r = cli('run', '--bogus');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /cpe-agent run: Unknown option '--bogus'/);
  const u = cli('frobnicate');
  assert.equal(u.status, 2);
  assert.match(u.stderr, /unknown command 'frobnicate'/);
  assert.match(cli('run', '--log-level', 'loud').stderr, /unknown log level 'loud'/);
});

test('run --embedded starts its broker, ctl reaches it, and it stops cleanly on SIGTERM', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const child = spawn(process.execPath, [bin, 'run', '--embedded', '--state-dir', dir, '--broker-port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    const end = Date.now() + 10_000;
    while (!out.includes('USP MQTT MTP up') && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    assert.match(out, /endpoint id\s+: os::00D0F1-Agent-EMBEDDED0001/);
    const url = /MQTT broker\s+: (mqtt:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;
    // The controller CLI reaches the agent through the embedded broker with its defaults.
    const get = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const c = spawn(
        process.execPath,
        [
          bin,
          'ctl',
          '--url',
          url,
          'get',
          'Device.DeviceInfo.Manufacturer',
          'Device.LocalAgent.Controller.1.EndpointID',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let so = '';
      c.stdout.on('data', (d) => {
        so += d;
      });
      c.once('exit', (code) => resolve({ code, stdout: so }));
    });
    assert.equal(get.code, 0);
    assert.equal(
      get.stdout,
      'Device.DeviceInfo.Manufacturer = cpe-agent project\nDevice.LocalAgent.Controller.1.EndpointID = ' +
        'proto::cpe-agent-ctl\n',
    );
    const bad = spawnSync(process.execPath, [bin, 'ctl', '--url', url, 'get', 'Device.Nope.'], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /Device\.Nope\.: error 7026/);
    child.kill('SIGTERM');
    const code = await new Promise((r) => child.once('exit', r));
    assert.equal(code, 0);
    assert.match(out, /agent stopped/);
  } finally {
    cleanup();
  }
});

test('du pack builds tar.gz and SquashFS packages that du inspect accepts; a hostile one is refused', async (t) => {
  // Without squashfs-tools the tar.gz half still runs, and the test says loudly what it left out.
  const squashfs = requireTool(t, 'mksquashfs', 'unsquashfs');
  const { dir, cleanup } = tempDir();
  try {
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const app = join(dir, 'app');
    mkdirSync(join(app, 'bin'), { recursive: true });
    writeFileSync(
      join(app, 'manifest.json'),
      JSON.stringify({
        name: 'hello',
        vendor: 'example.org',
        version: '1.2',
        services: [{ name: 'web', command: 'bin/run' }],
      }),
    );
    writeFileSync(join(app, 'bin/run'), '#!/bin/sh\n', { mode: 0o755 });
    for (const ext of ['tar.gz', ...(squashfs ? ['sqfs'] : [])]) {
      const out = join(dir, `hello.${ext}`);
      const p = cli('du', 'pack', app, '-o', out);
      assert.equal(p.status, 0, p.stderr);
      assert.match(p.stdout, /hello 1\.2 from example\.org, 1 service\(s\)/);
      const i = cli('du', 'inspect', out);
      assert.equal(i.status, 0, i.stderr);
      assert.match(i.stdout, new RegExp(`format\\s+${ext === 'sqfs' ? 'squashfs' : 'tar\\.gz'}`));
      assert.match(i.stdout, /service\s+web: bin\/run/);
    }
    writeFileSync(
      join(app, 'manifest.json'),
      JSON.stringify({
        name: 'hello',
        vendor: 'example.org',
        version: '1.2',
        services: [{ name: 'web', command: 'bin/missing' }],
      }),
    );
    assert.match(cli('du', 'pack', app, '-o', join(dir, 'x.tar.gz')).stderr, /bin\/missing is not in/);
    const { tarGz } = await import('../engine/tar-builder.js');
    writeFileSync(join(dir, 'evil.tgz'), tarGz([{ name: '../../evil', data: 'x' }]));
    const evil = cli('du', 'inspect', join(dir, 'evil.tgz'));
    assert.equal(evil.status, 1);
    assert.match(evil.stderr, /leaves the package/);
  } finally {
    cleanup();
  }
});

test('ctl operate InstallDU URL=file:PATH serves the file itself over loopback HTTP until the install is done: ' +
  'the agent reads no file: URL', {
  timeout: 60_000,
}, async () => {
  const { dir, cleanup } = tempDir();
  const { writeFileSync } = await import('node:fs');
  const { manifest, tarGz } = await import('../engine/tar-builder.js');
  writeFileSync(
    join(dir, 'app.tgz'),
    tarGz([
      {
        name: 'manifest.json',
        data: manifest({ name: 'local-app', services: [{ name: 'svc', command: 'bin/run.sh', autostart: false }] }),
      },
      { name: 'bin/run.sh', data: '#!/bin/sh\nsleep 100\n', mode: 0o755 },
    ]),
  );
  const agent = spawn(
    process.execPath,
    [bin, 'run', '--embedded', '--state-dir', join(dir, 'state'), '--broker-port', '0'],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  try {
    let out = '';
    agent.stdout.on('data', (d) => {
      out += d;
    });
    const end = Date.now() + 10_000;
    while (!out.includes('USP MQTT MTP up') && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    const url = /MQTT broker\s+: (mqtt:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;
    const ctl = (...args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const c = spawn(process.execPath, [bin, 'ctl', '--url', url, ...args], {
          stdio: ['ignore', 'pipe', 'pipe'],
          cwd: dir,
        });
        let so = '',
          se = '';
        c.stdout.on('data', (d) => {
          so += d;
        });
        c.stderr.on('data', (d) => {
          se += d;
        });
        c.once('exit', (code) => resolve({ code, stdout: so, stderr: se }));
      });
    // A relative file: URL, from ctl's own directory; ctl waits for the install without --wait.
    const install = await ctl('operate', 'Device.SoftwareModules.InstallDU()', 'URL=file:app.tgz');
    assert.equal(install.code, 0, install.stderr);
    assert.match(
      install.stderr,
      new RegExp(
        `serving ${join(dir, 'app.tgz').replace(/[.]/g, '\\.')} to the agent at ` +
          `http://127\\.0\\.0\\.1:\\d+/[0-9a-f]{32}/app\\.tgz`,
      ),
    );
    assert.match(install.stdout, /completed Device\.SoftwareModules\.InstallDU\(\) .*"UUID":/);
    const du = await ctl(
      'get',
      'Device.SoftwareModules.DeploymentUnit.1.URL',
      'Device.SoftwareModules.DeploymentUnit.1.Name',
    );
    assert.match(du.stdout, /DeploymentUnit\.1\.URL = http:\/\/127\.0\.0\.1:\d+\//);
    assert.match(du.stdout, /DeploymentUnit\.1\.Name = local-app/);
  } finally {
    agent.kill('SIGTERM');
    await new Promise((r) => agent.once('exit', r));
    cleanup();
  }
});
