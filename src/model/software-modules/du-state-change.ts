// A finished install, update or uninstall, whoever asked for it, brings the rows in step and becomes
// a DUStateChange! event; one whose Request row was lost in a restart still gets its OperationComplete.
import type { ObjectNode } from '../../dm/tree.js';
import type { DuResult } from '../../engine/engine.js';
import { uspCodeOf } from '../engine-faults.js';
import type { ApplicationData } from './application-data.js';
import type { DeploymentUnits } from './deployment-unit.js';
import type { ExecutionUnits } from './execution-unit.js';
import { ref, SM, type SmRows } from './rows.js';

/**
 * A finished DU operation as TR-181 reports it (the arguments of DUStateChange!): the USP event and
 * CWMP's OpResultStruct are both made from it.
 */
export interface DuStateChange {
  readonly operation: DuResult['operation'];
  readonly uuid: string;
  readonly duRef: string;
  readonly version: string;
  readonly state: 'Installed' | 'Uninstalled' | 'Failed';
  readonly resolved: boolean;
  readonly euRefs: string;
  readonly start: string;
  readonly complete: string;
  readonly fault: DuResult['fault'];
}

export class DuStateChanges {
  /** The row an uninstalled DU had: its DUStateChange! names it though the row is gone (TR-181 DeploymentUnitRef). */
  private readonly removedRows = new WeakMap<DuResult, string>();

  constructor(
    private readonly rows: SmRows,
    private readonly dus: DeploymentUnits,
    private readonly eus: ExecutionUnits,
    private readonly volumes: ApplicationData,
  ) {}

  readonly onResult = (r: DuResult): void => {
    const { dm } = this.rows;
    try {
      let duRow = r.duid ? this.rows.rowBy('DeploymentUnit', 'DUID', r.duid) : undefined;
      if (r.operation === 'Uninstall' && !r.fault) {
        for (const euid of r.euids) {
          const eu = this.rows.rowBy('ExecutionUnit', 'EUID', euid);
          if (eu) this.eus.drop(eu);
        }
        if (duRow) {
          this.removedRows.set(r, ref(duRow.path));
          dm.delete([duRow.path], this.rows.agent);
        }
      } else if (r.du) {
        duRow = this.dus.sync(r.du, 'Installed');
      }
      const c = this.duStateChange(r);
      dm.emit(
        `${SM}DUStateChange!`,
        {
          UUID: c.uuid,
          DeploymentUnitRef: c.duRef,
          Version: c.version,
          CurrentState: c.state,
          Resolved: String(c.resolved),
          ExecutionUnitRefList: c.euRefs,
          StartTime: c.start,
          CompleteTime: c.complete,
          OperationPerformed: c.operation,
          'Fault.FaultCode': String(c.fault ? uspCodeOf(c.fault.code) : 0),
          'Fault.FaultString': c.fault?.message ?? '',
        },
        this.rows.agent,
        // Whose request it ends, and a failed transfer's kind: for CWMP, which reports both its way.
        { commandKey: r.requestTag, ...(r.fault?.transfer ? { transfer: r.fault.transfer } : {}) },
      );
      this.volumes.sync();
      if (r.recovered && r.requestTag) this.reportOrphan(r, duRow);
    } catch (e) {
      this.rows.log.error({ err: e }, 'could not reflect a DU operation in the data model');
    }
  };

  /** A finished operation in TR-181's terms, once its rows are in step (the rows of an uninstalled DU are gone). */
  duStateChange(r: DuResult): DuStateChange {
    const duRow = r.duid ? this.rows.rowBy('DeploymentUnit', 'DUID', r.duid) : undefined;
    const state = r.fault
      ? r.operation === 'Install'
        ? 'Failed'
        : 'Installed'
      : r.operation === 'Uninstall'
        ? 'Uninstalled'
        : 'Installed';
    const euRefs =
      r.operation === 'Uninstall'
        ? []
        : r.euids
            .map((e) => this.rows.rowBy('ExecutionUnit', 'EUID', e))
            .filter(Boolean)
            .map((n) => ref(n!.path));
    return {
      operation: r.operation,
      uuid: r.uuid,
      duRef: duRow ? ref(duRow.path) : (this.removedRows.get(r) ?? ''),
      version: r.version,
      state,
      resolved: state === 'Installed',
      euRefs: euRefs.join(','),
      start: r.startTime,
      complete: r.completeTime,
      fault: r.fault,
    };
  }

  /** An InstallDU/Update/Uninstall whose Request row was lost in a restart still gets its OperationComplete. */
  private reportOrphan(r: DuResult, duRow: ObjectNode | undefined): void {
    const path =
      r.operation === 'Install' ? `${SM}InstallDU()` : `${duRow?.path ?? `${SM}DeploymentUnit.`}${r.operation}()`;
    const ee = this.rows.eeRow(r.ee);
    this.rows.dm.operations.reportOrphan(
      path,
      r.requestTag,
      this.rows.agent,
      r.fault
        ? { ok: false, code: uspCodeOf(r.fault.code), message: r.fault.message }
        : {
            ok: true,
            output:
              r.operation === 'Install' ? { UUID: r.uuid, Version: r.version, ExecEnvRef: ee ? ref(ee) : '' } : {},
          },
    );
  }
}
