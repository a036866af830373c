// The base root file system every EE starts from: LXC's busybox template (static busybox, no host
// library binds) or the operator's tarball, built once under lxcpath and never given to a container as
// it is: each EE runs on its own copy, owned by its id range.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EngineCode, EngineError } from '../../errors.js';
import { extractTarGz } from '../../package/tar-extract.js';
import { toolDetail } from '../../tool.js';
import { lxcTool } from './tool.js';

const BASE = 'cpe-base';
const CUSTOM_BASE = 'cpe-base-custom';

/** The base rootfs (built on first use); tarball: the operator's own instead of LXC's busybox one. */
export async function baseRootfs(lxcpath: string, tarball: string | undefined): Promise<string> {
  if (tarball) return customBase(lxcpath, tarball);
  const rootfs = join(lxcpath, BASE, 'rootfs');
  if (existsSync(join(rootfs, 'bin', 'busybox'))) return rootfs;
  await lxcTool('lxc-destroy', ['-P', lxcpath, '-n', BASE, '-f']);
  const args = ['-P', lxcpath, '-n', BASE, '-t', 'busybox', '-f', '/dev/null'];
  const r = await lxcTool('lxc-create', args);
  if (r.exitCode !== 0)
    throw new EngineError(
      EngineCode.InternalError,
      'building the base root file system for EEs failed',
      undefined,
      toolDetail('lxc-create', args, r),
    );
  return rootfs;
}

/**
 * The operator's rootfs, unpacked once with the safe extractor (links may be absolute inside it, devices are LXC's
 * business).
 */
async function customBase(lxcpath: string, tarball: string): Promise<string> {
  const dir = join(lxcpath, CUSTOM_BASE);
  const rootfs = join(dir, 'rootfs');
  if (existsSync(join(dir, 'complete'))) return rootfs;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(rootfs, { recursive: true, mode: 0o755 });
  try {
    await extractTarGz(tarball, rootfs, { maxBytes: 8 * 1024 ** 3, maxEntries: 1_000_000, kind: 'rootfs' });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    // The tarball's path is the host's: in the detail only, with the extractor's own.
    const [why, detail] =
      e instanceof EngineError ? [e.message, e.detail] : ['it could not be unpacked', (e as Error).message];
    throw new EngineError(
      EngineCode.CorruptData,
      `the operator's EE root file system can not be used: ${why}`,
      undefined,
      `${tarball}: ${detail ?? ''}`,
    );
  }
  writeFileSync(join(dir, 'complete'), '');
  return rootfs;
}
