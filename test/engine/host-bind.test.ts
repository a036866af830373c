// A HostObject's path is opened as it was checked: a parent directory swapped for a link, or the object
// replaced, between the check and the open, is refused rather than bound.
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, readlinkSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openExact } from '../../src/engine/host-bind.js';
import { tempDir } from '../helpers.js';

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
