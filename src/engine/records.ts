// What the engine remembers across restarts: execution environments, installed deployment units and
// their execution units, and operations in flight. One JSON file each, replaced atomically, so a
// kill -9 at any instant leaves the old or the new state. A write that fails (a full, read-only or
// failing disk) throws an EngineError: resources-exceeded when the disk is full, internal otherwise.
// A file that does not read back as what this wrote is moved aside (util/quarantine) and the engine
// starts without it.
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isDiskFull, removeStaleTemps, writeFileAtomic, writeFileSoon } from '../util/atomic-file.js';
import {
  isArrayOf,
  isBoolean,
  isNumber,
  isObject,
  isString,
  isStringMap,
  oneOf,
  optional,
} from '../util/json-shape.js';
import type { Quarantine } from '../util/quarantine.js';
import { EngineCode, EngineError } from './errors.js';
import { BACKEND_KINDS, type DURecord, type DuResult, type EERecord, type EURecord, type OpRecord } from './types.js';
import type { VolumeRecord } from './volumes.js';

export type { BackendKind, DURecord, EERecord, EURecord, OpRecord, UnitRestart } from './types.js';

export class EngineRecords {
  readonly dir: string;
  /** Record files found corrupt at start and moved aside ('appdata.json', 'ops/<id>.json' ...). */
  readonly lost = new Set<string>();

  constructor(
    stateDir: string,
    private readonly quarantine: Quarantine,
  ) {
    this.dir = join(stateDir, 'engine');
    for (const d of ['', 'du', 'data', 'tmp', 'ops', 'eu', 'appdata'])
      mkdirSync(join(this.dir, d), { recursive: true, mode: 0o700 });
    for (const d of ['', 'ops']) removeStaleTemps(join(this.dir, d));
  }

  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  loadEEs(): EERecord[] {
    return this.read('ees.json', (x) => isArrayOf(x, isEE)) ?? [];
  }
  saveEEs(ees: EERecord[]): void {
    this.write('ees.json', JSON.stringify(ees, null, 1));
  }

  loadDUs(): DURecord[] {
    return this.read('dus.json', (x) => isArrayOf(x, isDU)) ?? [];
  }
  saveDUs(dus: DURecord[]): void {
    this.write('dus.json', JSON.stringify(dus, null, 1));
  }

  loadVolumes(): VolumeRecord[] {
    return this.read('appdata.json', (x) => isArrayOf(x, isVolume)) ?? [];
  }
  saveVolumes(v: readonly VolumeRecord[]): void {
    this.write('appdata.json', JSON.stringify(v, null, 1));
  }

  loadOps(): OpRecord[] {
    return readdirSync(this.path('ops'))
      .filter((f) => f.endsWith('.json'))
      .map((f) => this.read(join('ops', f), isOp))
      .filter((o): o is OpRecord => Boolean(o));
  }
  /**
   * Replaces an operation's journal entry. Without sync it survives a kill -9 but perhaps not a power
   * cut: for what recovery can do without (the entry it replaces, on disk, must already be enough).
   */
  saveOp(op: OpRecord, sync = true): void {
    this.write(join('ops', `${op.id}.json`), JSON.stringify(op), sync);
  }
  /** The journal entry an operation starts with: durable by the time the promise settles (before its commit). */
  saveOpSoon(op: OpRecord): Promise<void> {
    return writeFileSoon(this.path('ops', `${op.id}.json`), JSON.stringify(op)).catch((e: unknown) => {
      throw writeError('ops', e);
    });
  }
  /**
   * The outcome, before it is reported: a kill -9 after the report reports it again, the same. Not
   * flushed: after a power cut recovery works the outcome out again from the records, which were on
   * disk before the report (a failed install then reads as interrupted).
   */
  recordOutcome(id: string, outcome: DuResult): void {
    const op = this.read(join('ops', `${id}.json`), isOp);
    if (op) this.saveOp({ ...op, outcome }, false);
  }
  dropOp(id: string): void {
    rmSync(this.path('ops', `${id}.json`), { force: true });
  }

  private read<T>(rel: string, valid: (x: unknown) => x is T): T | undefined {
    const p = this.path(rel);
    const there = existsSync(p);
    const found = this.quarantine.readJson(p, valid);
    if (there && found === undefined) this.lost.add(rel);
    return found;
  }

  private write(rel: string, text: string, sync = true): void {
    try {
      writeFileAtomic(this.path(rel), text, sync);
    } catch (e) {
      throw writeError(rel, e);
    }
  }
}

function writeError(rel: string, e: unknown): EngineError {
  const why = (e as Error).message;
  return isDiskFull(e)
    ? new EngineError(EngineCode.ResourcesExceeded, `no room on the device to record the change (${rel}): ${why}`)
    : new EngineError(EngineCode.InternalError, `the change could not be recorded (${rel}): ${why}`);
}

// ---- what a record file must hold -----------------------------------------------------------------
// What the engine can't work without (identity, where things are, what runs); fields that records of
// older agents lack, or that are read with a default, are not required.

function isEE(x: unknown): x is EERecord {
  return (
    isObject(x) &&
    isString(x.id) &&
    isString(x.name) &&
    oneOf(...BACKEND_KINDS)(x.backend) &&
    optional(x.container, isString) &&
    isBoolean(x.enabled) &&
    (x.ids === undefined || (isObject(x.ids) && isNumber(x.ids.base) && isNumber(x.ids.size)))
  );
}

function isEU(x: unknown): x is EURecord {
  return (
    isObject(x) &&
    isString(x.euid) &&
    isObject(x.service) &&
    isString(x.service.name) &&
    isString(x.service.command) &&
    isArrayOf(x.service.args, isString) &&
    isStringMap(x.service.env)
  );
}

function isDU(x: unknown): x is DURecord {
  const m = isObject(x) ? x.manifest : undefined;
  return (
    isObject(x) &&
    [x.duid, x.uuid, x.ee, x.root].every(isString) &&
    oneOf('tar.gz', 'squashfs', 'oci')(x.format) &&
    (x.image === undefined || (isObject(x.image) && isArrayOf(x.image.layers, isString) && isString(x.image.store))) &&
    optional(x.layout, oneOf('image', 'tree')) &&
    isObject(m) &&
    isString(m.name) &&
    isString(m.version) &&
    Array.isArray(m.services) &&
    isArrayOf(x.eus, isEU) &&
    (x.user === undefined || (isObject(x.user) && isNumber(x.user.uid) && isNumber(x.user.gid)))
  );
}

function isVolume(x: unknown): x is VolumeRecord {
  return (
    isObject(x) &&
    [x.id, x.ee, x.appUuid, x.name, x.accessPath].every(isString) &&
    isNumber(x.capacityMiB) &&
    oneOf('UntilStopped', 'Forever')(x.retain)
  );
}

function isOp(x: unknown): x is OpRecord {
  return (
    isObject(x) &&
    [x.id, x.startTime, x.uuid, x.staging, x.requestTag].every(isString) &&
    oneOf('install', 'update', 'uninstall')(x.kind) &&
    optional(x.duid, isString) &&
    optional(x.root, isString) &&
    (x.volumes === undefined || isArrayOf(x.volumes, isString)) &&
    isBoolean(x.committed) &&
    (x.outcome === undefined || isObject(x.outcome))
  );
}
