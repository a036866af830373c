// Which execution environment and deployment units a ChangeDUState operation names, read from the
// rows of Device.SoftwareModules (the model keeps them in step with what is installed): TR-069's
// selection by UUID, Version, ExecutionEnvRef and, for Update, URL, with its faults.
import type { DataModel } from '../dm/datamodel.js';
import type { ObjectNode } from '../dm/tree.js';
import type { DuOp } from './state.js';

const SM = 'Device.SoftwareModules.';
const EE_ROW = /^Device\.SoftwareModules\.ExecEnv\.\d+$/;

/** A selection that failed: the operation's fault. */
export interface SelectionFault {
  readonly code: number;
  readonly message: string;
}

export interface SelectedDu {
  /** The row's path with its dot: "Device.SoftwareModules.DeploymentUnit.3.". */
  readonly path: string;
  readonly uuid: string;
  readonly version: string;
}

const fault = (code: number, message: string): SelectionFault => ({ code, message });
const rows = (dm: DataModel, table: string): ObjectNode[] => [...(dm.node(SM)?.tables.get(table)?.rows.values() ?? [])];

/** The ExecEnv reference an install goes to: the one named, else the first enabled one. */
export function execEnvFor(dm: DataModel, eeRef: string): string | SelectionFault {
  const ref = eeRef.replace(/\.$/, '');
  const row = ref
    ? EE_ROW.test(ref)
      ? dm.node(`${ref}.`)
      : undefined
    : rows(dm, 'ExecEnv').find((r) => r.stored('Enable') === 'true');
  if (!row) return fault(9023, `no execution environment ${eeRef}`);
  if (row.stored('Enable') !== 'true') return fault(9024, `execution environment ${eeRef} is disabled`);
  return row.path.slice(0, -1);
}

/** The DUs an Update or Uninstall names (by UUID, Version, EE, or for Update by URL). */
export function dusFor(dm: DataModel, op: DuOp): SelectedDu[] | SelectionFault {
  const v = (r: ObjectNode, p: string) => r.stored(p) ?? '';
  let dus = rows(dm, 'DeploymentUnit');
  if (op.uuid) dus = dus.filter((d) => v(d, 'UUID').toLowerCase() === op.uuid.toLowerCase());
  else if (op.kind === 'Update' && op.url) dus = dus.filter((d) => v(d, 'URL') === op.url);
  if (op.version) dus = dus.filter((d) => v(d, 'Version') === op.version);
  if (op.eeRef && dus.length) {
    const ee = execEnvFor(dm, op.eeRef);
    if (typeof ee !== 'string' && ee.code === 9023) return ee;
    dus = dus.filter((d) => v(d, 'ExecutionEnvRef') === ee);
    if (!dus.length) return fault(9025, 'the deployment unit is not in the execution environment named');
  }
  if (!dus.length) return fault(9028, 'no such deployment unit');
  if (op.kind === 'Update' && op.uuid && !op.version && new Set(dus.map((d) => v(d, 'Version'))).size > 1)
    return fault(9031, 'several versions are installed; name the Version');
  return dus.map((d) => ({ path: d.path, uuid: v(d, 'UUID'), version: v(d, 'Version') }));
}

/** Whether a DU with this UUID is installed (a failed Update or Uninstall leaves it so). */
export function isInstalled(dm: DataModel, uuid: string): boolean {
  return rows(dm, 'DeploymentUnit').some((d) => d.stored('UUID') === uuid);
}
