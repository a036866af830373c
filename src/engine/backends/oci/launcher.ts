// How an EU's process starts in an OCI EE: `runc run` in the foreground, in a session of its own, is the
// unit's supervised process (its exit is the container's). Its bundle is written and the DU's root
// mounted just before. Stopping goes through runc: SIGTERM to the container's init, SIGKILL to it
// later (killing runc itself would leave the container running), and the container deleted once it ended.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProcessLauncher } from '../../supervisor.js';
import type { Runc } from './runc.js';
import type { OciSpec } from './spec.js';

/** What a start needs: the container's id, its bundle directory, and its spec made (DU root mounted) then. */
export interface RuncUnit {
  readonly id: string;
  readonly bundle: string;
  readonly spec: () => OciSpec;
}

export function runcLauncher(runc: Runc, unit: RuncUnit): ProcessLauncher {
  return {
    spawn(_euid, _launch, logFd) {
      const spec = unit.spec();
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
      void runc.kill(unit.id, sig === 'SIGTERM' ? 'TERM' : 'KILL').then(async (ok) => {
        if (sig !== 'SIGKILL') return;
        // Not created yet, or runc hung: runc's own session goes, and the container (if any) with it.
        if (!ok) killGroup(pid);
        await runc.delete(unit.id);
      });
    },
  };
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}
