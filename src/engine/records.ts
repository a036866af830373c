// What the engine remembers across restarts: execution environments, installed deployment units and
// their execution units, and operations in flight. One JSON file each, replaced atomically, so a
// kill -9 at any instant leaves the old or the new state.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { DuResult } from './engine.js';
import { removeStaleTemps, writeFileAtomic, writeFileAtomicSoon } from '../util/atomic-file.js';
import type { Manifest, ServiceSpec } from './package/manifest.js';
import type { VolumeRecord } from './volumes.js';
import type { IdRange } from './backends/lxc-policy.js';
import type { UserIds } from './ids/users.js';

export type BackendKind = 'native' | 'lxc';

export interface EERecord {
  readonly id: string;                 // stable name of the EE ("native", "lxc-1" ...)
  name: string;
  readonly backend: BackendKind;
  /** The LXC container of an lxc EE. */
  readonly container?: string;
  enabled: boolean;
  initialRunLevel: number;
  currentRunLevel: number;
  allocatedDiskKiB: number;            // -1: no limit
  allocatedMemoryKiB: number;
  allocatedCpuPercent: number;
  readonly createdAt: string;
  restartCount: number;
  lastRestarted: string;
  restartReason: string;
  /** The host ids an unprivileged container's ids map onto (absent: the native EE). */
  readonly ids?: IdRange;
  /** The operator allows privileged DUs here (TR-181 Privileged). */
  allowPrivileged?: boolean;
}

/** The TR-181 AutoRestart settings an operator gave (absent: the manifest's policy, default timing). */
export interface UnitRestart { enabled: boolean; minWait: number; maxWait: number; multiplier: number; maxRetries: number }

export interface EURecord {
  readonly euid: string;
  readonly service: ServiceSpec;
  restart?: UnitRestart;
  /** What the EU should be: AutoStart decides at boot, SetRequestedState afterwards. */
  requested: 'Active' | 'Idle';
  autoStart: boolean;
  runLevel: number;
}

export interface DURecord {
  readonly duid: string;
  readonly uuid: string;
  readonly ee: string;
  readonly manifest: Manifest;
  readonly url: string;
  readonly username: string;
  readonly password: string;           // kept for Update without a URL (the file is 0600)
  readonly format: 'tar.gz' | 'squashfs';
  /** A mounted SquashFS image, or files unpacked (absent in older records: a SquashFS was mounted). */
  readonly layout?: 'image' | 'tree';
  readonly root: string;               // unpacked package
  /** Installed with TR-181 Privileged (only where its EE's policy allowed it). */
  readonly privileged?: boolean;
  /** A native DU's own host user (its services run as it unless one names another). */
  readonly user?: UserIds;
  readonly installedAt: string;
  readonly diskKiB: number;
  eus: EURecord[];
}

/** An install, update or uninstall that has started and not yet been reported. */
export interface OpRecord {
  readonly id: string;
  readonly kind: 'install' | 'update' | 'uninstall';
  readonly startTime: string;
  readonly uuid: string;               // may be empty until the manifest is read
  readonly duid: string | undefined;   // the DU it concerns (update, uninstall, and install once known)
  readonly staging: string;            // what to remove if it never completed
  readonly root?: string;              // the DU's final root once known (a mount point for SquashFS)
  readonly requestTag: string;         // who asked (opaque to the engine: the model's key)
  readonly volumes?: readonly string[]; // application data volumes it created (removed if it never commits)
  committed: boolean;                  // the engine state already reflects the operation
  fault?: { code: number; message: string };
  /** The outcome, journalled before anyone hears it: a restart that finds it reports exactly this. */
  outcome?: DuResult;
}

export class EngineRecords {
  readonly dir: string;
  constructor(stateDir: string) {
    this.dir = join(stateDir, 'engine');
    for (const d of ['', 'du', 'data', 'tmp', 'ops', 'eu', 'appdata']) mkdirSync(join(this.dir, d), { recursive: true, mode: 0o700 });
    for (const d of ['', 'ops']) removeStaleTemps(join(this.dir, d));
  }

  path(...parts: string[]): string { return join(this.dir, ...parts); }

  loadEEs(): EERecord[] { return this.read<EERecord[]>('ees.json') ?? []; }
  saveEEs(ees: EERecord[]): void { writeFileAtomic(this.path('ees.json'), JSON.stringify(ees, null, 1)); }

  loadDUs(): DURecord[] { return this.read<DURecord[]>('dus.json') ?? []; }
  saveDUs(dus: DURecord[]): void { writeFileAtomic(this.path('dus.json'), JSON.stringify(dus, null, 1)); }

  loadVolumes(): VolumeRecord[] { return this.read<VolumeRecord[]>('appdata.json') ?? []; }
  saveVolumes(v: readonly VolumeRecord[]): void { writeFileAtomic(this.path('appdata.json'), JSON.stringify(v, null, 1)); }

  loadOps(): OpRecord[] {
    return readdirSync(this.path('ops')).filter((f) => f.endsWith('.json')).map((f) => this.read<OpRecord>(join('ops', f))).filter((o): o is OpRecord => Boolean(o));
  }
  saveOp(op: OpRecord): void { writeFileAtomic(this.path('ops', `${op.id}.json`), JSON.stringify(op)); }
  /** The journal entry an operation starts with: durable by the time the promise settles (before its commit). */
  saveOpSoon(op: OpRecord): Promise<void> { return writeFileAtomicSoon(this.path('ops', `${op.id}.json`), JSON.stringify(op)); }
  recordOutcome(id: string, outcome: DuResult): void {
    const op = this.read<OpRecord>(join('ops', `${id}.json`));
    if (op) this.saveOp({ ...op, outcome });
  }
  dropOp(id: string): void { rmSync(this.path('ops', `${id}.json`), { force: true }); }

  private read<T>(rel: string): T | undefined {
    const p = this.path(rel);
    if (!existsSync(p)) return undefined;
    return JSON.parse(readFileSync(p, 'utf8')) as T;
  }
}
