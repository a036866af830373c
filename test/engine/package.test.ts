import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { unpackLimits } from '../../src/engine/admission.js';
import { EngineCode, EngineError } from '../../src/engine/errors.js';
import { parseManifest } from '../../src/engine/package/manifest.js';
import { unpackPackage } from '../../src/engine/package/unpack.js';
import { duUuid } from '../../src/engine/package/uuid.js';
import type { EERecord } from '../../src/engine/types.js';
import { requireTool, tempDir } from '../helpers.js';
import { type Entry, manifest, tarGz } from './tar-builder.js';

const limits = { maxBytes: 1024 * 1024, maxEntries: 1000 };

async function unpack(entries: Entry[] | Buffer, dir: string) {
  const file = join(dir, 'pkg.tgz');
  writeFileSync(file, Buffer.isBuffer(entries) ? entries : tarGz(entries));
  const target = join(dir, 'out');
  mkdirSync(target);
  return unpackPackage(file, target, limits);
}

const refusal = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof EngineError, String(e));
    assert.equal((e as EngineError).code, EngineCode.CorruptData);
    return (e as Error).message;
  }
  throw new Error('not refused');
};

test('DU UUID follows the TR-181 v5 rule', () => {
  assert.equal(duUuid('sample1', 'broadband-forum.org'), 'fe2d23bd-dd02-51b8-af04-f5c18b2b0aa6');
  assert.notEqual(duUuid('sample.1', 'x.org'), duUuid('sample1', 'x.org'));
});

test('a good tar.gz unpacks with its manifest, modes and inner links', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const r = await unpack(
      [
        { name: 'manifest.json', data: manifest() },
        { name: 'bin/', type: '5' },
        { name: 'bin/run.sh', data: '#!/bin/sh\n', mode: 0o4755 },
        { name: 'bin/run', type: '2', link: 'run.sh' },
      ],
      dir,
    );
    assert.equal(r.manifest.name, 'hello');
    assert.equal(r.format, 'tar.gz');
    assert.equal(readFileSync(join(dir, 'out/bin/run'), 'utf8'), '#!/bin/sh\n');
  } finally {
    cleanup();
  }
});

test('hostile archives are refused and write nothing outside the target', async () => {
  const cases: [string, Entry[], RegExp][] = [
    ['dot-dot', [{ name: '../evil', data: 'x' }], /leaves the package/],
    ['absolute', [{ name: '/tmp/evil', data: 'x' }], /absolute path/],
    ['symlink out', [{ name: 'link', type: '2', link: '../../etc' }], /leaves the package/],
    ['absolute symlink', [{ name: 'link', type: '2', link: '/etc' }], /absolute path/],
    [
      'write through symlink',
      [
        { name: 'd', type: '5' },
        { name: 'link', type: '2', link: 'd' },
        { name: 'link/x', data: 'x' },
      ],
      /through a symbolic link/,
    ],
    ['hard link out', [{ name: 'h', type: '1', link: '../../etc/passwd' }], /leaves the package/],
    ['device', [{ name: 'dev', type: '3' }], /device node/],
    ['fifo', [{ name: 'p', type: '6' }], /FIFO/],
  ];
  for (const [what, entries, re] of cases) {
    const { dir, cleanup } = tempDir();
    try {
      assert.match(await refusal(unpack(entries, dir)), re, what);
      assert.deepEqual(readdirSync(dir).sort(), ['out', 'pkg.tgz'], `${what} wrote beside the target`);
      assert.ok(!existsSync(join(dir, 'evil')));
    } finally {
      cleanup();
    }
  }
});

test('a decompression bomb stops at the size limit; truncated and corrupt files are clear errors', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const bomb = tarGz([
      { name: 'manifest.json', data: manifest() },
      { name: 'zeros', data: Buffer.alloc(4 * 1024 * 1024) },
    ]);
    assert.ok(bomb.length < 20_000, 'the bomb is small packed');
    assert.match(await refusal(unpack(bomb, dir)), /more than 1048576 bytes/);
    // The same size past an EE's disk allowance (smaller than the engine's cap): too big for that EE, not bad.
    const file = join(dir, 'bomb.tgz');
    writeFileSync(file, bomb);
    mkdirSync(join(dir, 'ee'));
    await assert.rejects(
      unpackPackage(file, join(dir, 'ee'), { ...limits, byAllowance: true }),
      (e: unknown) =>
        e instanceof EngineError &&
        e.code === EngineCode.ResourcesExceeded &&
        /more than the execution environment's 1048576 bytes of disk/.test(e.message),
    );
    const ee = { allocatedDiskKiB: 1024 } as EERecord;
    assert.deepEqual(unpackLimits(ee, 4 * 1024 * 1024), {
      maxBytes: 1024 * 1024,
      maxEntries: 100_000,
      byAllowance: true,
    });
    assert.equal(unpackLimits({ ...ee, allocatedDiskKiB: -1 }, 4096).byAllowance, false, "the engine's cap");
  } finally {
    cleanup();
  }
  for (const [bytes, re] of [
    [
      tarGz(
        [
          { name: 'manifest.json', data: manifest() },
          { name: 'big', data: 'y'.repeat(5000) },
        ],
        { truncate: 2048 },
      ),
      /truncated/,
    ],
    [gzipSync(Buffer.from('this is not a tar archive at all '.repeat(40))), /checksum|truncated/],
    [Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02]), /gzip|truncated/],
    [Buffer.from('PK\u0003\u0004 a zip file'), /neither a tar.gz nor a SquashFS/],
  ] as [Buffer, RegExp][]) {
    const d = tempDir();
    try {
      assert.match(await refusal(unpack(bytes, d.dir)), re);
    } finally {
      d.cleanup();
    }
  }
});

test('manifests are validated field by field', () => {
  assert.equal(parseManifest(manifest()).services[0]!.restart, 'on-failure');
  for (const [over, re] of [
    [{ name: '../x' }, /name must be/],
    [{ vendor: undefined }, /vendor is missing/],
    [{ extra: 1 }, /unknown field \(known fields: name,/],
    [
      {
        services: [
          { name: 'a', command: 'x' },
          { name: 'a', command: 'y' },
        ],
      },
      /two services are named 'a'/,
    ],
    [{ services: [{ name: 'a', command: '../../bin/sh' }] }, /must not contain '\.\.'/],
    [{ services: [{ name: 'a', command: 'x', restart: 'sometimes' }] }, /restart must be/],
    [{ services: [{ name: 'a', command: 'x', env: { 'BAD-NAME': 'v' } }] }, /env/],
  ] as [Record<string, unknown>, RegExp][]) {
    assert.throws(() => parseManifest(manifest(over)), re);
  }
  assert.throws(() => parseManifest('{'), /not JSON/);
});

test('hostile SquashFS images are refused: device nodes, FIFOs, links out, too large, unreadable', async (t) => {
  if (!requireTool(t, 'mksquashfs', 'unsquashfs')) return;
  const { dir, cleanup } = tempDir('cpe-sqfs-');
  t.after(cleanup);
  const image = (name: string, files: Record<string, string>, pseudo: string[] = []): string => {
    const src = join(dir, `${name}-src`);
    mkdirSync(src);
    writeFileSync(join(src, 'manifest.json'), manifest());
    for (const [f, data] of Object.entries(files)) writeFileSync(join(src, f), data);
    const out = join(dir, `${name}.sqfs`);
    execFileSync('mksquashfs', [src, out, '-all-root', '-noappend', '-quiet', ...pseudo.flatMap((p) => ['-p', p])]);
    return out;
  };
  const unsquash = (file: string) => {
    const target = join(dir, `${file.split('/').pop()}-out`);
    mkdirSync(target);
    return unpackPackage(file, target, limits);
  };
  const good = await unsquash(image('good', { 'app.sh': 'echo hi\n' }));
  assert.ok(good.bytes > 0);
  assert.equal(good.format, 'squashfs');
  assert.match(await refusal(unsquash(image('dev', {}, ['mem c 644 0 0 1 1']))), /device node/);
  assert.match(await refusal(unsquash(image('fifo', {}, ['pipe i 644 0 0 f']))), /FIFO/);
  assert.match(await refusal(unsquash(image('abs', {}, ['etc s 777 0 0 /etc']))), /absolute path/);
  assert.match(await refusal(unsquash(image('up', {}, ['up s 777 0 0 ../../../etc']))), /leaves the package/);
  assert.match(await refusal(unsquash(image('big', { blob: 'x'.repeat(2 * 1024 * 1024) }))), /more than/);
  const unreadable = join(dir, 'unreadable.sqfs');
  writeFileSync(unreadable, Buffer.concat([Buffer.from('hsqs'), Buffer.alloc(4096, 7)]));
  assert.match(await refusal(unsquash(unreadable)), /not a readable SquashFS/);
});
