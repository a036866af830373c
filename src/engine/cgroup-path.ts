// The lines of /proc/<pid>/cgroup, read so that a unit cannot steer the agent's writes. A cgroup's name is
// chosen by whoever may make it (root of a container, in the tree delegated to it) and may hold ':' or
// look like '..': the fields are split at the first two colons only, a path with a '.' or '..' component
// is refused (the kernel never names a cgroup so: it is a forgery), and a process's cgroup counts only
// where it lies under the cgroup the agent expects for the unit (the container's, or the launched one's).

/** One hierarchy of a process: its controllers ('' for the unified v2 one) and its path from the root. */
export interface CgroupLine {
  readonly controllers: string;
  readonly path: string;
}

/**
 * The hierarchies of a /proc/<pid>/cgroup text; undefined where a line is malformed or a hierarchy is
 * named twice (a name with a newline in it forging a line of its own).
 */
export function parseCgroupLines(text: string): CgroupLine[] | undefined {
  const out: CgroupLine[] = [];
  for (const l of text.split('\n').filter(Boolean)) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(l);
    if (!m) return undefined;
    const [, , controllers = '', path = ''] = m;
    if (!isCleanPath(path) || out.some((o) => o.controllers === controllers)) return undefined;
    out.push({ controllers, path });
  }
  return out;
}

/** An absolute path of plain components: no '.', '..' or empty one (the root is '/'). */
export function isCleanPath(path: string): boolean {
  if (path === '/') return true;
  if (!path.startsWith('/')) return false;
  return path
    .slice(1)
    .split('/')
    .every((c) => c !== '' && c !== '.' && c !== '..');
}

/** Whether a cgroup path is the base or below it (both clean). */
export function isWithin(base: string, path: string): boolean {
  if (!isCleanPath(base) || !isCleanPath(path)) return false;
  return base === '/' || path === base || path.startsWith(`${base}/`);
}
