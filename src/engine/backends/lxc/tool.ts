// How the LXC backend runs its tools: execa, and what it loads (~5 MB resident), comes in with the first
// call, so an agent on a device without LXC never pays for them.

/** One lxc-* (or other) tool run, its exit code returned, not thrown. */
export async function lxcTool(cmd: string, args: string[]) {
  const { execa } = await import('execa');
  return execa(cmd, args, { reject: false });
}

/** LXC is usable when its tools, a busybox to build the base rootfs from, and ext4 tools are all here. */
export async function lxcAvailable(): Promise<boolean> {
  const ok = async (cmd: string, args: string[]) => (await lxcTool(cmd, args)).exitCode === 0;
  return (await ok('lxc-create', ['--version'])) && (await ok('busybox', ['true'])) && (await ok('mkfs.ext4', ['-V']));
}
