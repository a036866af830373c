// ExecEnv.Reset() as TR-181 defines it: the EE goes back to the state of the last factory reset. DUs
// installed since are uninstalled with their data and logs, factory DUs (the defaults file's, installed
// once at the first start after a factory reset) are brought back to their factory version or installed
// again, then the EE restarts (its writable layer wiped where it has one). Each of these is an ordinary
// operation: it is journalled and reported (DUStateChange!) like any other.
import type { DuStore } from './du-store.js';
import { EngineCode, EngineError } from './errors.js';
import type { DuResult, EERecord, InstallRequest, UpdateRequest } from './types.js';

/** The request tag of the operations a Reset() makes (nobody's request: reported as autonomous changes). */
export const RESET_TAG = 'exec-env-reset';
/** The request tag of the installs of factory DUs at a first start. */
export const FACTORY_TAG = 'factory-install';

export interface ResetOps {
  readonly store: DuStore;
  install(req: InstallRequest): Promise<DuResult>;
  update(duid: string, req: UpdateRequest): Promise<DuResult>;
  uninstall(duid: string, requestTag: string): Promise<DuResult>;
  /** Restarts the EE, its writable layer wiped where it has one. */
  restart(ee: EERecord): Promise<void>;
}

export async function resetToFactory(o: ResetOps, eeId: string): Promise<void> {
  const ee = o.store.requireEE(eeId, false);
  const factory = ee.factoryDUs ?? [];
  const results: DuResult[] = [];
  for (const du of o.store.dusIn(eeId))
    if (!du.factoryUrl || !factory.includes(du.factoryUrl)) results.push(await o.uninstall(du.duid, RESET_TAG));
  for (const du of o.store.dusIn(eeId))
    if (du.factoryUrl && du.url !== du.factoryUrl)
      results.push(await o.update(du.duid, { url: du.factoryUrl, requestTag: RESET_TAG, retainData: false }));
  for (const url of factory)
    if (!o.store.dusIn(eeId).some((d) => d.factoryUrl === url))
      results.push(await o.install({ url, ee: eeId, requestTag: RESET_TAG, factory: true }));
  await o.restart(ee);
  const failed = results.filter((r) => r.fault);
  const what = failed.map((r) => `${r.operation} of ${r.uuid || 'a DU'}: ${r.fault!.message}`);
  if (failed.length) throw new EngineError(EngineCode.CommandFailure, `Reset() of ${ee.name}: ${what.join('; ')}`);
}

/**
 * The factory DUs of an EE, installed once: the list is kept with the EE at once, so a DU an operator
 * uninstalls later is not installed again at the next start (a Reset() does that).
 */
export async function installFactoryDUs(o: ResetOps, eeId: string, urls: readonly string[]): Promise<DuResult[]> {
  const ee = o.store.requireEE(eeId, false);
  if (ee.factoryDUs !== undefined) return [];
  ee.factoryDUs = [...urls];
  o.store.saveEEs();
  const results: DuResult[] = [];
  for (const url of urls) results.push(await o.install({ url, ee: eeId, requestTag: FACTORY_TAG, factory: true }));
  return results;
}
