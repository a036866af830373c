// Space on the file system that holds a directory, as TR-181 reports it (KiB): all of it, or what
// is left for an unprivileged writer.
import { statfsSync } from 'node:fs';

export function diskKiB(dir: string, field: 'total' | 'free'): number {
  const s = statfsSync(dir);
  return Math.floor(((field === 'total' ? s.blocks : s.bavail) * s.bsize) / 1024);
}
