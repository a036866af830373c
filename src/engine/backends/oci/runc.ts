// runc, with the agent's own state directory (--root) so its containers are told apart from anyone
// else's on the device and found again after an agent restart.
import { execFileSync } from 'node:child_process';
import { type ToolResult, tool } from '../../tool.js';

export interface RuncContainer {
  readonly id: string;
  readonly pid: number;
  readonly status: string;
}

export class Runc {
  constructor(readonly root: string) {}

  run(args: readonly string[]): Promise<ToolResult> {
    return tool('runc', ['--root', this.root, ...args]);
  }

  /** The arguments of `runc run`, which the launcher spawns as the unit's process. */
  runArgs(bundle: string, id: string): string[] {
    return ['--root', this.root, 'run', '--bundle', bundle, id];
  }

  async list(): Promise<RuncContainer[]> {
    const r = await this.run(['list', '--format', 'json']);
    if (r.exitCode !== 0) return [];
    return ((JSON.parse(r.stdout || 'null') as RuncContainer[] | null) ?? []).map((c) => ({
      id: c.id,
      pid: c.pid,
      status: c.status,
    }));
  }

  async kill(id: string, sig: 'TERM' | 'KILL'): Promise<boolean> {
    return (await this.run(['kill', id, sig])).exitCode === 0;
  }

  /** Removes a container whatever its state (its processes killed). */
  async delete(id: string): Promise<void> {
    await this.run(['delete', '--force', id]);
  }

  /** The same, synchronously: a stale container of the same id would make `runc run` refuse. */
  deleteSync(id: string): void {
    try {
      execFileSync('runc', ['--root', this.root, 'delete', '--force', id], { stdio: 'ignore' });
    } catch {
      /* there was none */
    }
  }

  /** runc runs here: it answers, and its state directory can be listed. */
  async works(): Promise<boolean> {
    return (await tool('runc', ['--version'])).exitCode === 0 && (await this.run(['list'])).exitCode === 0;
  }
}
