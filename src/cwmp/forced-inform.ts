// The parameters every Inform carries, whatever the ACS asked: read once from the definitions.
import type { DataModel } from '../dm/datamodel.js';

/** The parameters every Inform carries: those the definitions mark forcedInform (single objects). */
export function forcedInformParams(dm: DataModel): string[] {
  const out: string[] = [];
  const visit = (path: string): void => {
    const node = dm.node(path);
    if (!node) return;
    for (const p of node.def.params.values()) if (p.forcedInform && p.only !== 'usp') out.push(path + p.name);
    for (const s of node.singles.values()) visit(s.path);
  };
  visit('Device.');
  return out;
}
