// A layer blob unpacked in overlayfs lower-layer form, with the package extractor's safety (no path
// escape, nothing written through a link, no device node, size and entry bounds): the OCI whiteout
// `.wh.<name>` becomes a character device 0:0 named <name>, an opaque directory `.wh..wh..opq` the
// xattr trusted.overlay.opaque=y. Owners are the headers' ids, moved into the EE's subordinate range
// when the layer is for an unprivileged EE (overlayfs reads whiteouts and xattrs from the lower dirs as
// they are). Node has no mknod nor setxattr: mknod (coreutils) and setfattr (attr) make them.
import { chown, mkdir, open } from 'node:fs/promises';
import type { IdRange } from '../backends/lxc/policy.js';
import { hostId } from '../ids/ownership.js';
import { type ExtractLimits, extractTarGz, type LayerForm } from '../package/tar-extract.js';
import { runTool } from '../tool.js';

export async function isGzip(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(2);
    const { bytesRead } = await fh.read(b, 0, 2, 0);
    return bytesRead === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

export function layerForm(ids: IdRange | undefined): LayerForm {
  const owner = (uid: number, gid: number) => (ids ? { uid: hostId(ids, uid), gid: hostId(ids, gid) } : { uid, gid });
  const root = owner(0, 0);
  return {
    owner,
    whiteout: async (dest) => {
      await runTool('mknod', ['-m', '000', dest, 'c', '0', '0']);
      await runTool('chown', ['-h', `${root.uid}:${root.gid}`, dest]);
    },
    opaque: (dest) => runTool('setfattr', ['-h', '-n', 'trusted.overlay.opaque', '-v', 'y', dest]),
  };
}

/** Unpacks a layer blob (a tar, gzip-compressed or not) into target, which must not exist yet. */
export async function unpackLayer(
  blob: string,
  target: string,
  ids: IdRange | undefined,
  limits: Pick<ExtractLimits, 'maxBytes' | 'maxEntries'>,
): Promise<{ bytes: number; entries: number }> {
  await mkdir(target, { mode: 0o755 });
  const root = layerForm(ids).owner(0, 0);
  await chown(target, root.uid, root.gid);
  return extractTarGz(blob, target, {
    ...limits,
    kind: 'rootfs',
    gzip: await isGzip(blob),
    layer: layerForm(ids),
  });
}
