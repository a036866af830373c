// The resolv.conf networked units get: one line naming the bridge's gateway, where the agent's DNS
// forwarder listens (dns-forwarder.ts). Written by the agent on the host at every start (the subnet may
// have changed) and bound read-only into containers (LXC EEs bind it over /etc/resolv.conf): a file no
// container can write, so nothing of a container's is ever opened for it. A rewrite replaces the file
// (a new inode): a running container keeps the old one until its next start.
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../util/atomic-file.js';

/** Its name under the engine's state directory. */
export const RESOLV_CONF = 'resolv.conf';

export function writeResolvConf(dir: string, gateway: string): string {
  const file = join(dir, RESOLV_CONF);
  writeFileAtomic(file, `# cpe-agent: the agent's DNS forwarder on its bridge\nnameserver ${gateway}\n`, false);
  // Readable by the containers' users (host root's file is nobody's inside a container).
  chmodSync(file, 0o644);
  return file;
}
