// Factory DUs: the defaults file lists them per EE (ExecEnv.{i}.X_CPE-AGENT_FactoryDeploymentUnits, package
// URLs); they are installed at the first start after a factory reset, and ExecEnv.Reset() restores them.
import type { SmRows } from './rows.js';

export const FACTORY_DUS = 'X_CPE-AGENT_FactoryDeploymentUnits';

/**
 * Starts the installs of the factory DUs of every EE that has not had them yet. Not awaited by the
 * agent's start: each is an ordinary install, reported by DUStateChange! when it is done.
 */
export function installFactoryDUs(rows: SmRows): void {
  for (const ee of rows.engine.execEnvs()) {
    const row = rows.eeRow(ee.id);
    const urls = (row ? rows.dm.value(`${row}${FACTORY_DUS}`) : '')
      .split(',')
      .map((u) => u.trim())
      .filter(Boolean);
    if (!urls.length || ee.factoryDUs !== undefined) continue;
    void rows.engine
      .installFactoryDUs(ee.id, urls)
      .then((results) => {
        for (const r of results)
          if (r.fault) rows.log.error({ uuid: r.uuid, fault: r.fault }, 'a factory deployment unit was not installed');
      })
      .catch((e: unknown) =>
        rows.log.error({ err: e, ee: ee.name }, 'the factory deployment units were not installed'),
      );
  }
}
