// The Device.SoftwareModules rows the engine's records are mirrored into, found by the keys that
// stay stable across restarts (ExecEnv by Name, DeploymentUnit by DUID, ExecutionUnit by EUID), so
// instance numbers never change under an operator's feet.
import { agentCaller } from '../../dm/caller.js';
import type { DataModel } from '../../dm/datamodel.js';
import { DmError } from '../../dm/errors.js';
import { splitParamPath } from '../../dm/path.js';
import type { ObjectNode } from '../../dm/tree.js';
import type { Engine } from '../../engine/engine.js';
import type { EERecord } from '../../engine/records.js';
import type { Logger } from '../../util/logger.js';
import type { SecurityCertificates } from '../security-certificates.js';

export const SM = 'Device.SoftwareModules.';
export const DI = 'Device.DeviceInfo.';
/** The component every write of these files is made as. */
export const ME = 'software-modules';
/** A reference parameter's value for a row: its path without the trailing dot. */
export const ref = (row: string) => row.slice(0, -1);

/** A value an operator wrote: the row's path, the parameter's name, the new value. */
export interface OperatorWrite {
  readonly row: string;
  readonly param: string;
  readonly value: string;
}

export type SmTable = 'ExecEnvClass' | 'ExecEnv' | 'DeploymentUnit' | 'ExecutionUnit';

export class SmRows {
  readonly agent = agentCaller(ME);

  constructor(
    readonly dm: DataModel,
    readonly engine: Engine,
    readonly log: Logger,
    /** Device.Security.Certificate, which ExecEnv.Signers names (absent: no signer is trusted). */
    readonly certificates?: SecurityCertificates,
  ) {}

  rows(table: SmTable): ObjectNode[] {
    return [...(this.dm.node(SM)?.tables.get(table)?.rows.values() ?? [])];
  }

  rowBy(table: SmTable, key: string, value: string): ObjectNode | undefined {
    const t = this.dm.node(SM)?.tables.get(table);
    // A unique key (EUID, DUID, Name ...) is looked up in the table's index, not by a scan of every
    // row: a unit's state change finds its row, and 1,000 of them in a row made it quadratic.
    const filed = t?.keys.has(key) ? t.keys.rowsWith(key, value) : undefined;
    if (filed && filed.size <= 1) return filed.values().next().value;
    return this.rows(table).find((r) => r.stored(key) === value);
  }

  /** The row with that key updated with these values, or added with them; returns its path. */
  ensureRow(table: SmTable, key: string, value: string, values: Record<string, string>): string {
    const row = this.rowBy(table, key, value);
    if (row) {
      this.dm.update(row.path, values, ME);
      return row.path;
    }
    return this.dm.addInstance(`${SM}${table}.`, { [key]: value, ...values }, ME);
  }

  eeRow(eeId: string): string | undefined {
    const ee = this.engine.execEnvs().find((e) => e.id === eeId);
    return ee ? this.rowBy('ExecEnv', 'Name', ee.name)?.path : undefined;
  }

  eeOfRow(rowPath: string): EERecord | undefined {
    const name = this.dm.node(rowPath)?.stored('Name');
    return this.engine.execEnvs().find((e) => e.name === name);
  }

  /** The engine's EE of an ExecEnv row a command was called on. */
  eeForCommand(row: ObjectNode): EERecord {
    const ee = this.eeOfRow(row.path);
    if (!ee) throw new DmError(7223, `${row.path} is not an execution environment of the engine`);
    return ee;
  }

  /**
   * Values an operator (not the agent) writes under these patterns: TR-181 "command parameters" of
   * CWMP, and Enable for both protocols, act on the engine. A failure is logged, as nobody waits for it.
   */
  onOperatorWrite(patterns: string[], act: (w: OperatorWrite, fail: (e: unknown) => void) => void): () => void {
    return this.dm.feed.subscribe(
      patterns,
      (c) => {
        if (c.kind !== 'value' || c.cause.kind === 'agent') return;
        const [row, param] = splitParamPath(c.path);
        act({ row, param, value: c.value }, (e) => this.log.error({ err: e, path: c.path }, 'operator request failed'));
      },
      ['value'],
    );
  }
}
