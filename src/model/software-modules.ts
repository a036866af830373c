// Device.SoftwareModules over the container engine: the only place where TR-181 and the engine
// meet. Rows mirror the engine's execution environments, deployment units and execution units
// (matched by Name / DUID / EUID, so instance numbers stay stable across restarts); commands call
// the engine; every finished install, update and uninstall becomes a DUStateChange! event, whoever
// asked for it, and every EU state change a value change. Each TR-181 object has its file in
// software-modules/; this one registers them and ties them to the engine's events.
import type { DataModel } from '../dm/datamodel.js';
import { DmError, UspError } from '../dm/errors.js';
import type { DuResult, Engine } from '../engine/engine.js';
import type { EERecord } from '../engine/records.js';
import type { Logger } from '../util/logger.js';
import type { SecurityCertificates } from './security-certificates.js';
import { ApplicationData, registerApplicationData } from './software-modules/application-data.js';
import { DeploymentUnits, registerDeploymentUnits } from './software-modules/deployment-unit.js';
import { type DuStateChange, DuStateChanges } from './software-modules/du-state-change.js';
import { ExecEnvs, registerExecEnvs } from './software-modules/exec-env.js';
import { registerExecEnvRoles } from './software-modules/exec-env-roles.js';
import { ExecutionUnits, registerExecutionUnits } from './software-modules/execution-unit.js';
import { installFactoryDUs } from './software-modules/factory-dus.js';
import { followFileUrlDirectory, registerFileUrlDirectory } from './software-modules/file-url-directory.js';
import { followInsecureRegistries, registerInsecureRegistries } from './software-modules/insecure-registries.js';
import { NetworkRows, registerNetwork } from './software-modules/network.js';
import { ME, SmRows } from './software-modules/rows.js';
import { followCertificates, pruneSigners, registerSigners } from './software-modules/signers.js';

export type { DuStateChange } from './software-modules/du-state-change.js';

/** Handlers that must exist before the data model opens; they reach the engine once it runs. */
export function registerSoftwareModules(dm: DataModel, model: () => SoftwareModules | undefined): void {
  const need = (): SoftwareModules => {
    const m = model();
    if (!m) throw new DmError(UspError.CommandFailure, 'the container engine is not running');
    return m;
  };
  // The rows copy the engine's records, and sync() writes them again at every start.
  dm.mirror(ME);
  registerDeploymentUnits(dm, () => need().deploymentUnits);
  registerExecutionUnits(
    dm,
    () => need().executionUnits,
    () => model()?.executionUnits,
  );
  registerExecEnvs(
    dm,
    () => need().execEnvs,
    () => model()?.execEnvs,
  );
  registerApplicationData(
    dm,
    () => need().applicationData,
    () => model()?.applicationData,
  );
  registerFileUrlDirectory(dm);
  registerSigners(dm);
  registerExecEnvRoles(dm);
  registerInsecureRegistries(dm);
  registerNetwork(dm, () => need().network);
}

export class SoftwareModules {
  readonly execEnvs: ExecEnvs;
  readonly deploymentUnits: DeploymentUnits;
  readonly executionUnits: ExecutionUnits;
  readonly applicationData: ApplicationData;
  readonly network: NetworkRows;
  private readonly results: DuStateChanges;
  private readonly rows: SmRows;
  private readonly offFileUrlDirectory: () => void;
  private readonly offCertificates: () => void;
  private readonly pruneSigners: () => void;
  private readonly offInsecureRegistries: () => void;

  constructor(
    dm: DataModel,
    private readonly engine: Engine,
    log: Logger,
    certificates?: SecurityCertificates,
  ) {
    const rows = (this.rows = new SmRows(dm, engine, log, certificates));
    this.offCertificates = followCertificates(dm);
    this.pruneSigners = () => pruneSigners(dm);
    this.offFileUrlDirectory = followFileUrlDirectory(dm, engine);
    this.offInsecureRegistries = followInsecureRegistries(dm, engine);
    this.execEnvs = new ExecEnvs(rows);
    this.executionUnits = new ExecutionUnits(rows, this.execEnvs);
    this.deploymentUnits = new DeploymentUnits(rows, this.execEnvs, this.executionUnits);
    this.applicationData = new ApplicationData(rows);
    this.network = new NetworkRows(rows);
    this.results = new DuStateChanges(rows, this.deploymentUnits, this.executionUnits, this.applicationData);
    engine.on('result', this.results.onResult);
    engine.on('eu', this.executionUnits.onUnit);
    engine.on('ee', this.execEnvs.sync);
    engine.on('duStatus', this.deploymentUnits.onStatus);
    engine.on('volumes', this.applicationData.sync);
    // After the rows of the result and of the EE: the network rows reference them.
    engine.on('result', this.network.sync);
    engine.on('ee', this.network.sync);
  }

  /**
   * Brings the rows in line with the engine after a start (the engine is the truth), except for
   * ExecEnv rows the engine does not know: those come from the defaults file, and become LXC
   * execution environments with the allocations they name.
   */
  async sync(): Promise<void> {
    this.execEnvs.syncClasses();
    await this.execEnvs.adoptRows();
    for (const ee of this.engine.execEnvs()) this.execEnvs.sync(ee);
    this.deploymentUnits.prune();
    this.executionUnits.prune();
    for (const du of this.engine.deploymentUnits()) this.deploymentUnits.sync(du, 'Installed');
    // Runtime state, not persisted: the units adopted before their rows were there are counted now.
    for (const ee of this.engine.execEnvs()) this.execEnvs.syncActive(ee.id);
    this.applicationData.sync();
    this.pruneSigners();
    installFactoryDUs(this.rows);
    this.network.sync();
  }

  close(): void {
    this.execEnvs.close();
    this.executionUnits.close();
    this.offFileUrlDirectory();
    this.offCertificates();
    this.offInsecureRegistries();
    this.engine.off('result', this.results.onResult);
    this.engine.off('eu', this.executionUnits.onUnit);
    this.engine.off('ee', this.execEnvs.sync);
    this.engine.off('duStatus', this.deploymentUnits.onStatus);
    this.engine.off('volumes', this.applicationData.sync);
    this.engine.off('result', this.network.sync);
    this.engine.off('ee', this.network.sync);
  }

  /** The engine's EE an ExecutionEnvRef names; an empty reference means the first enabled one. */
  execEnvOf(eeRef: string): EERecord | undefined {
    return this.execEnvs.execEnvOf(eeRef);
  }

  /** A finished operation in TR-181's terms, once its rows are in step. */
  duStateChange(r: DuResult): DuStateChange {
    return this.results.duStateChange(r);
  }
}
