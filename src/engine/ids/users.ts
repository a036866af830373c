// Users by name, from a passwd file read without following links (a container's or package's
// /etc/passwd could be a link to a host file), or by number.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

export interface UserIds {
  readonly uid: number;
  readonly gid: number;
}

const MAX_PASSWD = 1024 * 1024;

export function lookupUser(passwd: string, user: string): UserIds | undefined {
  if (/^\d+$/.test(user)) return { uid: Number(user), gid: Number(user) };
  for (const line of readNoFollow(passwd).split('\n')) {
    const f = line.split(':');
    if (f[0] === user && /^\d+$/.test(f[2] ?? '') && /^\d+$/.test(f[3] ?? ''))
      return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return undefined;
}

/** A regular file's text (at most 1 MiB), '' when it is absent, a link or anything else. */
export function readNoFollow(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return '';
  }
  try {
    if (!fstatSync(fd).isFile()) return '';
    const buf = Buffer.alloc(Math.min(fstatSync(fd).size, MAX_PASSWD));
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.toString('utf8', 0, n);
  } finally {
    closeSync(fd);
  }
}
