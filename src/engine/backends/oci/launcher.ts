// How an EU's process starts in an OCI EE: `runc run` in the foreground, in a session of its own, is the
// unit's supervised process (its exit is the container's). Its bundle is written and the DU's root
// mounted just before. Stopping goes through runc: SIGTERM to the container's init, SIGKILL to it
// later (killing runc itself would leave the container running), and the container deleted once it ended.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { UnitNetwork } from '../../net/types.js';
import type { ProcessLauncher } from '../../supervisor.js';
import type { Runc } from './runc.js';
import type { OciSpec } from './spec.js';

/**
 * What a start needs: the container's id, its bundle directory, and its spec made (DU root mounted) then, in
 * the network the engine gives the unit (a namespace the agent made to join; otherwise runc makes a fresh one).
 */
export interface RuncUnit {
  readonly id: string;
  readonly bundle: string;
  readonly spec: (network: UnitNetwork | undefined) => OciSpec;
}

export function runcLauncher(runc: Runc, unit: RuncUnit): ProcessLauncher {
  return {
    spawn(_euid, launch, logFd) {
      const spec = unit.spec(launch.network);
      mkdirSync(unit.bundle, { recursive: true, mode: 0o700 });
      writeFileSync(join(unit.bundle, 'config.json'), JSON.stringify(spec, null, 1), { mode: 0o600 });
      runc.deleteSync(unit.id);
      const child = spawn('runc', runc.runArgs(unit.bundle, unit.id), {
        stdio: ['ignore', logFd, logFd],
        detached: true,
      });
      const exited = new Promise<number | null>((resolve) => {
        child.once('exit', (code) => {
          // `runc run` deletes what it made, except when it was killed itself: no container outlives it.
          void runc.delete(unit.id).then(() => resolve(code));
        });
        child.once('error', () => resolve(127));
      });
      if (child.pid === undefined) throw new Error('runc could not be executed');
      child.unref();
      return { pid: child.pid, exited };
    },
    signal(_euid, pid, sig) {
      void deliver(runc, unit.id, pid, sig);
    },
  };
}

/**
 * A stop that comes right after the start may find `runc run` still creating the container: the signal is
 * tried again (every 100 ms, while runc runs, for up to 5 s) rather than lost. A SIGKILL that finds no
 * container (or a hung runc) takes runc's own session, and the container is deleted in any case.
 */
async function deliver(runc: Runc, id: string, pid: number, sig: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  let ok = false;
  for (let i = 0; i < 50 && !ok && alive(pid); i++) {
    ok = await runc.kill(id, sig === 'SIGTERM' ? 'TERM' : 'KILL');
    if (!ok) await new Promise((r) => setTimeout(r, 100));
  }
  if (sig !== 'SIGKILL') return;
  if (!ok) killGroup(pid);
  await runc.delete(id);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}
