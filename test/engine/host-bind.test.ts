// A HostObject's path is opened as it was checked: a parent directory swapped for a link, or the object
// replaced, between the check and the open, is refused rather than bound.
import assert from 'node:assert/strict';
import {
  closeSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { bindOpened, clearStaging, openExact } from '../../src/engine/host-bind.js';
import { isMounted, makeShared, unmount } from '../../src/engine/mounts.js';
import { runTool } from '../../src/engine/tool.js';
import { requireRoot, tempDir } from '../helpers.js';

function layout() {
  const t = tempDir('cpe-host-bind-');
  const parent = join(t.dir, 'allowed');
  mkdirSync(join(parent, 'share'), { recursive: true });
  writeFileSync(join(parent, 'share', 'f'), 'x');
  return { ...t, parent, source: join(parent, 'share') };
}

test('openExact: the checked path, opened as it is', () => {
  const { cleanup, source } = layout();
  try {
    const fd = openExact(source);
    assert.equal(readlinkSync(`/proc/self/fd/${fd}`), source);
    closeSync(fd);
    assert.throws(() => openExact(`${source}/`), /symbolic link/, 'a path not in its canonical form');
  } finally {
    cleanup();
  }
});

test('openExact: a parent swapped for a link to where the same directory now is is refused', () => {
  const { dir, cleanup, parent, source } = layout();
  try {
    // The same inode is reached, through a link: only the path the kernel took shows it.
    const moved = join(dir, 'elsewhere');
    assert.throws(
      () =>
        openExact(source, () => {
          renameSync(parent, moved);
          symlinkSync(moved, parent);
        }),
      /through a link/,
    );
  } finally {
    cleanup();
  }
});

test('openExact: a parent swapped for a link to another tree, or the object replaced, is refused', () => {
  const { dir, cleanup, parent, source } = layout();
  try {
    const other = join(dir, 'secret');
    mkdirSync(join(other, 'share'), { recursive: true });
    assert.throws(
      () =>
        openExact(source, () => {
          renameSync(parent, join(dir, 'old'));
          symlinkSync(other, parent);
        }),
      /replaced|through a link/,
    );
  } finally {
    cleanup();
  }
  const l = layout();
  try {
    assert.throws(
      () =>
        openExact(l.source, () => {
          renameSync(l.source, join(l.dir, 'old-share'));
          mkdirSync(l.source);
        }),
      /replaced/,
    );
  } finally {
    l.cleanup();
  }
});

test('bindOpened: in a shared tree the bind appears with its flags, and no staging mount is left', async (t) => {
  if (!requireRoot(t, 'mounts')) return;
  const { dir, cleanup, source } = layout();
  const du = join(dir, 'du');
  const at = join(du, '.appdata', 'host-1');
  const staging = join(dir, 'staging', 'host-1');
  mkdirSync(du);
  await makeShared(du);
  const fd = openExact(source);
  try {
    await bindOpened(fd, at, { readOnly: true, staging });
    const line = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .find((l) => l.split(' ')[4] === at);
    assert.ok(line, 'mounted in du/');
    const opts = line.split(' ')[5]!.split(',');
    for (const o of ['ro', 'nosuid', 'nodev']) assert.ok(opts.includes(o), `${o}: ${line}`);
    assert.equal(readFileSync(join(at, 'f'), 'utf8'), 'x');
    assert.ok(!isMounted(staging) && !existsSync(staging), 'the staging mount is gone');
  } finally {
    closeSync(fd);
    await unmount(at);
    await unmount(du);
    cleanup();
  }
});

test('bindOpened: the opened object is bound even when its path is swapped for a link after the open', async (t) => {
  if (!requireRoot(t, 'mounts')) return;
  const { dir, cleanup, parent, source } = layout();
  const at = join(dir, 'du', 'host-1');
  const elsewhere = join(dir, 'elsewhere');
  mkdirSync(elsewhere);
  writeFileSync(join(elsewhere, 'f'), 'secret');
  const fd = openExact(source);
  try {
    // The mount tool must not resolve /proc/<pid>/fd/<fd> back into a path: that path now leads elsewhere.
    renameSync(source, join(parent, 'moved'));
    symlinkSync(elsewhere, source);
    await bindOpened(fd, at, { readOnly: true, staging: join(dir, 'staging') });
    assert.equal(readFileSync(join(at, 'f'), 'utf8'), 'x', 'the object opened, not the link planted after');
  } finally {
    closeSync(fd);
    await unmount(at);
    cleanup();
  }
});

test('clearStaging: what a crash left (binds stacked, an object held) is unmounted and removed', async (t) => {
  if (!requireRoot(t, 'mounts')) return;
  const { dir, cleanup, source } = layout();
  const staging = join(dir, 'staging');
  mkdirSync(join(staging, 'object'), { recursive: true });
  try {
    await runTool('mount', ['--bind', staging, staging]);
    await runTool('mount', ['--bind', staging, staging]);
    mkdirSync(join(staging, 'object'), { recursive: true });
    await runTool('mount', ['--bind', source, join(staging, 'object')]);
    await clearStaging(staging);
    assert.ok(!isMounted(staging) && !isMounted(join(staging, 'object')));
    assert.ok(!existsSync(staging));
    assert.equal(readFileSync(join(source, 'f'), 'utf8'), 'x', 'the host path is untouched');
  } finally {
    await unmount(join(staging, 'object')).catch(() => undefined);
    await unmount(staging).catch(() => undefined);
    cleanup();
  }
});
