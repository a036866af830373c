// The host ids the agent hands out: each unprivileged execution environment gets a block of its own
// (so two EEs never share an owner on the host), and each DU of the native EE a user of its own.
// The pool is the operator's (Device.SoftwareModules.X_CPE-AGENT_IdPoolStart / IdPoolSize);
// block 0 holds the native DUs' users, blocks 1.. the EEs' ranges. What was handed out is
// recorded with the EE or DU, so it stays the same across restarts.
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../../util/atomic-file.js';
import type { IdRange } from '../backends/lxc/policy.js';
import { EngineCode, EngineError } from '../errors.js';

export interface IdPool {
  readonly start: number;
  readonly size: number;
}

/** 65,536 ids per EE: a whole Linux distribution's worth, as LXC and LXD hand out. */
export const BLOCK = 65_536;
export const DEFAULT_POOL: IdPool = { start: 1_000_000, size: 1000 * BLOCK };

export function checkPool(p: IdPool): void {
  if (
    !Number.isInteger(p.start) ||
    p.start < BLOCK ||
    !Number.isInteger(p.size) ||
    p.size < 2 * BLOCK ||
    p.start + p.size > 2 ** 32 - 1
  ) {
    throw new EngineError(
      EngineCode.InvalidValue,
      `the id pool ${p.start}+${p.size} must start at ${BLOCK} or above and hold at least ${2 * BLOCK} ids below 2^32`,
    );
  }
}

/** The lowest EE block not in use. */
export function allocateRange(pool: IdPool, used: readonly IdRange[]): IdRange {
  const taken = new Set(used.map((r) => r.base));
  for (let base = pool.start + BLOCK; base + BLOCK <= pool.start + pool.size; base += BLOCK) {
    if (!taken.has(base)) return { base, size: BLOCK };
  }
  throw new EngineError(
    EngineCode.ResourcesExceeded,
    `the id pool (${pool.size} ids from ${pool.start}) has no block left for another execution environment`,
  );
}

/** The lowest native DU user not in use (block 0 of the pool). */
export function allocateUser(pool: IdPool, used: readonly number[]): number {
  const taken = new Set(used);
  for (let id = pool.start; id < pool.start + BLOCK; id++) if (!taken.has(id)) return id;
  throw new EngineError(
    EngineCode.ResourcesExceeded,
    `no user left for another native deployment unit (${BLOCK} in use)`,
  );
}

/**
 * Where the shadow tools are installed, LXC asks newuidmap/newgidmap to write a container's id map,
 * and they accept only ranges /etc/subuid and /etc/subgid delegate to the caller (root here). The
 * pool is delegated to root once; without the tools LXC writes the map itself and nothing is needed.
 * Returns the files it changed.
 */
export function delegatePool(
  pool: IdPool,
  files = ['/etc/subuid', '/etc/subgid'],
  toolsPresent = hasShadowTools(),
): string[] {
  if (!toolsPresent) return [];
  const changed: string[] = [];
  for (const f of files) {
    const text = existsSync(f) ? readFileSync(f, 'utf8') : '';
    const covered = text.split('\n').some((l) => {
      const [who, s, n] = l.split(':');
      return (
        (who === 'root' || who === '0') && Number(s) <= pool.start && Number(s) + Number(n) >= pool.start + pool.size
      );
    });
    if (covered) continue;
    writeFileAtomic(f, `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}root:${pool.start}:${pool.size}\n`);
    chmodSync(f, 0o644);
    changed.push(f);
  }
  return changed;
}

function hasShadowTools(): boolean {
  return ['/usr/bin/newuidmap', '/usr/bin/newgidmap'].every((f) => existsSync(f));
}
