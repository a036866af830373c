// Whose ids a service runs as inside an OCI container: a number, uid:gid, or a name (and group) from the
// image's /etc/passwd and /etc/group. Those are read from the image's layers as installed (no container
// can write them), topmost first, never through a link: a layer's etc/ that is a link is not followed.
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { EngineCode, EngineError } from '../../errors.js';
import { lookupUser, readNoFollow, type UserIds } from '../../ids/users.js';

const NUMBER = /^\d+$/;

/** The image's file (etc/passwd or etc/group) from its topmost layer that has it as a regular file. */
function imageFile(layers: readonly string[], name: 'passwd' | 'group'): string | undefined {
  for (const layer of [...layers].reverse()) {
    try {
      if (!lstatSync(join(layer, 'etc')).isDirectory()) continue;
      if (lstatSync(join(layer, 'etc', name)).isFile()) return join(layer, 'etc', name);
    } catch {
      /* not in this layer */
    }
  }
  return undefined;
}

/** A group's id by number or by name (name:x:gid:members). */
function groupId(layers: readonly string[], group: string): number | undefined {
  if (NUMBER.test(group)) return Number(group);
  const file = imageFile(layers, 'group');
  for (const line of file ? readNoFollow(file).split('\n') : []) {
    const f = line.split(':');
    if (f[0] === group && NUMBER.test(f[2] ?? '')) return Number(f[2]);
  }
  return undefined;
}

/** user[:group] in the image's layers (lowest first); throws when it names what the image lacks. */
export function imageUser(layers: readonly string[], spec: string): UserIds {
  const [user = '', group] = spec.split(':', 2);
  const passwd = imageFile(layers, 'passwd');
  const found = NUMBER.test(user)
    ? { uid: Number(user), gid: Number(user) }
    : passwd
      ? lookupUser(passwd, user)
      : user === 'root'
        ? { uid: 0, gid: 0 }
        : undefined;
  const gid = group === undefined ? found?.gid : groupId(layers, group);
  if (!found || gid === undefined)
    throw new EngineError(EngineCode.InvalidArguments, `the image has no user or group '${spec}'`);
  return { uid: found.uid, gid };
}
