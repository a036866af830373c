// The composition root: builds the layers from the state directory and the defaults file, starts
// them in order, stops them in reverse, and restarts in-process for Reboot() and FactoryReset().
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { CwmpClient, CwmpClientOptions } from './cwmp/client.js';
import { CwmpState } from './cwmp/state.js';
import { DataModel } from './dm/datamodel.js';
import { Schema } from './dm/schema.js';
import { parseValues } from './dm/values-file.js';
import { Engine, type EngineOptions } from './engine/engine.js';
import { registerCertificates } from './model/certificates.js';
import { type BootCause, type BootInfo, emitBoot, registerDevice } from './model/device.js';
import { initDeviceInfo, registerDeviceInfo, reportCorruptState } from './model/device-info.js';
import { registerTraceRoute } from './model/ip-diagnostics/traceroute.js';
import { registerIpInterfaces } from './model/ip-interface.js';
import { initEndpointId, registerLocalAgent } from './model/local-agent.js';
import { registerManagementServer } from './model/management-server.js';
import { registerMqtt } from './model/mqtt.js';
import { registerNat } from './model/nat.js';
import { registerScheduleTimer } from './model/schedule-timer.js';
import { SecurityCertificates } from './model/security-certificates.js';
import { registerSoftwareModules, SoftwareModules } from './model/software-modules.js';
import type { TlsFiles } from './usp/mqtt/mtp.js';
import { UspAgent } from './usp/usp-agent.js';
import { writeFileAtomic } from './util/atomic-file.js';
import type { Logger } from './util/logger.js';
import { datamodelDir } from './util/package-info.js';
import { Quarantine } from './util/quarantine.js';

export interface AgentOptions {
  readonly stateDir: string;
  /** Defaults file: a JSON object of full parameter path -> value. */
  readonly defaultsFile?: string;
  readonly logger: Logger;
  readonly datamodelDir?: string;
  /** Values imposed at every start, after the persisted state (e.g. the embedded broker's port). */
  readonly settings?: Readonly<Record<string, string>>;
  /** The operator's base root file system (tar.gz) for LXC execution environments. */
  readonly lxcRootfs?: string;
  /** CA and client certificate files for TLS connections to MQTT brokers and the ACS. */
  readonly tls?: TlsFiles;
  /** Bounds of package downloads (connect, idle, whole download, redirects); the engine's defaults where absent. */
  readonly download?: EngineOptions['download'];
  /** CWMP: where the Connection Request server listens, the firmware installer, the ACS timeout. */
  readonly cwmp?: Pick<CwmpClientOptions, 'connectionRequest' | 'firmwareCommand' | 'timeoutMs'>;
}

const BOOT_FILE = 'boot.json';
const MS = 'Device.ManagementServer.';
const SM = 'Device.SoftwareModules.';
const MTP = 'Device.LocalAgent.MTP.';

export class Agent {
  private current: DataModel | undefined;
  private usp: UspAgent | undefined;
  private engine: Engine | undefined;
  /** The engine as the other layers see it: what they ask of it before it has started waits for that. */
  private sm: SoftwareModules | undefined;
  private cwmp: CwmpClient | undefined;
  private cwmpStarting: Promise<void> | undefined;
  private offCwmpSwitch: (() => void) | undefined;
  private readonly schema: Schema;
  private readonly log: Logger;
  private restarting: Promise<void> | undefined;
  /** Called after every start, including restarts, with the fresh data model. */
  onStarted: (dm: DataModel) => void = () => {};

  constructor(private readonly opts: AgentOptions) {
    this.log = opts.logger.child({ component: 'agent' });
    this.schema = Schema.load(opts.datamodelDir ?? datamodelDir);
  }

  get uspAgent(): UspAgent | undefined {
    return this.usp;
  }
  get containerEngine(): Engine | undefined {
    return this.engine;
  }
  get cwmpClient(): CwmpClient | undefined {
    return this.cwmp;
  }

  get dm(): DataModel {
    if (!this.current) throw new Error('agent is not running');
    return this.current;
  }

  async start(): Promise<void> {
    mkdirSync(this.opts.stateDir, { recursive: true, mode: 0o700 });
    const defaults = this.loadDefaults();
    // One for all the state this start reads: what it moved aside is reported together before Boot!.
    const quarantine = new Quarantine(this.opts.stateDir, this.opts.logger.child({ component: 'state' }));
    const dm = new DataModel({
      schema: this.schema,
      stateDir: join(this.opts.stateDir, 'dm'),
      defaults,
      logger: this.opts.logger.child({ component: 'dm' }),
      quarantine,
    });
    registerDevice(dm, {
      reboot: (cause, reason, commandKey) =>
        void this.restart({ cause, reason, commandKey, firmwareUpdated: false }, false),
      factoryReset: (cause, commandKey) =>
        void this.restart({ cause, reason: '', commandKey, firmwareUpdated: false }, true),
    });
    registerDeviceInfo(dm, { stateDir: this.opts.stateDir });
    registerManagementServer(dm);
    registerLocalAgent(dm);
    // Under usp/, which a factory reset removes along with the Certificate rows in dm/.
    registerCertificates(dm, join(this.opts.stateDir, 'usp', 'certificates'));
    // Outside usp/ and dm/: signer certificates an operator put there survive a factory reset.
    const certificates = new SecurityCertificates(
      dm,
      join(this.opts.stateDir, 'certs'),
      this.opts.logger.child({ component: 'security' }),
    );
    const timers = registerScheduleTimer(dm, join(this.opts.stateDir, 'usp', 'timers'));
    registerTraceRoute(dm, this.opts.logger.child({ component: 'ip-diagnostics' }));
    registerMqtt(dm);
    registerIpInterfaces(dm);
    registerNat(dm);
    UspAgent.register(dm, () => this.usp);
    // Commands on software modules wait for the engine's start (below, after the protocols connect).
    const started = settledLater();
    const synced = settledLater();
    registerSoftwareModules(commandsAfter(dm, synced.promise), () => this.sm);
    const { fresh } = dm.open();
    initDeviceInfo(dm, fresh);
    initEndpointId(dm);
    certificates.sync();
    for (const [path, value] of Object.entries(this.opts.settings ?? {})) {
      const obj = path.slice(0, path.lastIndexOf('.') + 1);
      if (dm.value(path) !== value) dm.update(obj, { [path.slice(obj.length)]: value }, 'settings');
    }
    this.current = dm;
    // The protocols connect first and the engine adopts the installed DUs after (a device with
    // hundreds of them is reachable at once): DU rows are those of the last run (persisted) until it
    // has. Until then what the engine does for the protocols waits for it, so nothing acts on
    // half-loaded records.
    const idPool = {
      start: Number(dm.value(`${SM}X_CPE-AGENT_IdPoolStart`)),
      size: Number(dm.value(`${SM}X_CPE-AGENT_IdPoolSize`)),
    };
    const engine = new Engine({
      stateDir: this.opts.stateDir,
      logger: this.opts.logger.child({ component: 'engine' }),
      idPool,
      quarantine,
      // The bridge and subnet of networked units: read at start (docs/networking.md).
      network: { bridge: dm.value(`${SM}X_CPE-AGENT_BridgeName`), subnet: dm.value(`${SM}X_CPE-AGENT_BridgeSubnet`) },
      ...(this.opts.lxcRootfs ? { lxcRootfs: this.opts.lxcRootfs } : {}),
      ...(this.opts.tls?.caFile ? { caFile: this.opts.tls.caFile } : {}),
      ...(this.opts.download ? { download: this.opts.download } : {}),
    });
    this.engine = engine;
    this.sm = new SoftwareModules(
      dm,
      operationsAfter(engine, started.promise),
      this.opts.logger.child({ component: 'software-modules' }),
      certificates,
    );
    const adopt = async () => {
      try {
        await engine.start().finally(started.settle);
        await this.sm?.sync();
      } finally {
        synced.settle();
      }
    };
    // A first start has no DUs to adopt, and no rows yet for the protocols to name (CWMP's ChangeDUState
    // reads the ExecEnv rows the first sync makes): the engine comes first there.
    if (fresh) await adopt();
    this.usp = new UspAgent(dm, this.opts.logger, this.opts.tls, this.opts.stateDir);
    this.usp.start(fresh);
    // The CWMP client (with its XML parser) is loaded only where CWMP is used: at start when it is on
    // or has unfinished work from before, else the moment an operator turns it on.
    const cwmpWanted = () => dm.value(`${MS}URL`) !== '' && dm.value(`${MS}EnableCWMP`) === 'true';
    // Read now whether CWMP is on or not: a corrupt file is moved aside and reported with the rest.
    if (CwmpState.hasWork(this.opts.stateDir, quarantine) || cwmpWanted()) await this.startCwmp(dm);
    else {
      this.offCwmpSwitch = dm.feed.subscribe([`${MS}URL`, `${MS}EnableCWMP`], () => {
        if (!cwmpWanted() || this.cwmp || this.cwmpStarting) return;
        this.cwmpStarting = this.startCwmp(dm)
          .then(() => this.cwmp?.resumeJobs())
          .catch((e: unknown) => this.log.error({ err: e }, 'the CWMP client could not start'))
          .finally(() => {
            this.cwmpStarting = undefined;
          });
      }, ['value']);
    }
    if (!fresh) {
      // The adoption's synchronous work would hold up the connections' first exchanges: it waits for
      // the USP connection to come up (the MQTT connect record is out then), or a moment at most.
      await this.protocolsUp(dm);
      await adopt().catch(async (e: unknown) => {
        await this.stop(); // the protocols are up already: nothing may outlive a failed start
        throw e;
      });
    }
    // DU operations a crash interrupted are reported now that the protocols listen; then USP resends
    // what it had stored (the OperationCompletes of those reports a moment later included).
    engine.reportRecovered();
    const usp = this.usp;
    setImmediate(() => usp.resumeNotifications());
    timers.resume();
    this.cwmp?.resumeJobs();
    const boot = this.takeBootInfo();
    this.log.info(
      {
        stateDir: this.opts.stateDir,
        fresh,
        endpointId: dm.value('Device.LocalAgent.EndpointID'),
        cause: boot.cause,
        corruptStateFiles: quarantine.files(),
      },
      'agent started',
    );
    this.onStarted(dm);
    reportCorruptState(dm, quarantine.files());
    emitBoot(dm, boot);
  }

  async stop(): Promise<void> {
    const dm = this.current;
    if (!dm) return;
    this.current = undefined;
    this.offCwmpSwitch?.();
    this.offCwmpSwitch = undefined;
    await this.cwmpStarting;
    await this.cwmp?.stop();
    this.cwmp = undefined;
    await this.usp?.stop();
    this.usp = undefined;
    this.sm?.close();
    this.sm = undefined;
    // Services keep running: the next start adopts them (a restart of the agent is not of the device).
    await this.engine?.detach();
    this.engine = undefined;
    for (const op of dm.operations.list()) dm.operations.cancel(op.id, 'stopping');
    dm.close();
    this.log.info('agent stopped');
  }

  /** Settles once a USP MQTT connection is up (its connect record goes out next), capMs at most; at once
   *  without an enabled MQTT MTP. */
  private protocolsUp(dm: DataModel, capMs = 300): Promise<void> {
    const mtps = [...(dm.node('Device.LocalAgent.')?.tables.get('MTP')?.rows.values() ?? [])];
    if (!mtps.some((m) => m.stored('Enable') === 'true' && m.stored('Protocol') === 'MQTT')) return Promise.resolve();
    return new Promise((done) => {
      const t = setTimeout(finish, capMs);
      const off = dm.feed.subscribe(`${MTP}*.MQTT.ResponseTopicDiscovered`, () => setImmediate(finish), ['value']);
      function finish(): void {
        clearTimeout(t);
        off();
        done();
      }
    });
  }

  private async startCwmp(dm: DataModel): Promise<void> {
    const { CwmpClient } = await import('./cwmp/client.js');
    if (this.current !== dm) return; // stopped meanwhile
    // The client speaks to the data model only: ChangeDUState calls its SoftwareModules commands and
    // hears their DUStateChange! events, like USP does.
    const client = new CwmpClient(dm, {
      stateDir: this.opts.stateDir,
      logger: this.opts.logger,
      ...this.opts.cwmp,
      ...(this.opts.tls
        ? { tls: { ca: this.opts.tls.caFile, cert: this.opts.tls.certFile, key: this.opts.tls.keyFile } }
        : {}),
      reboot: (commandKey) =>
        void this.restart({ cause: 'RemoteReboot', reason: 'CWMP Reboot', commandKey, firmwareUpdated: false }, false),
      factoryReset: () =>
        void this.restart({ cause: 'RemoteFactoryReset', reason: '', commandKey: '', firmwareUpdated: false }, true),
    });
    this.cwmp = client;
    await client.start();
  }

  /**
   * Reboot() and FactoryReset(): the cause is written first so the next Boot! reports it. A request that
   * comes while a restart is under way (the new CWMP session can ask for a FactoryReset before start()
   * has returned) runs after it, never merged into it: a factory reset must not be lost.
   */
  restart(boot: BootInfo, factoryReset: boolean): Promise<void> {
    const run = async () => {
      writeFileAtomic(join(this.opts.stateDir, BOOT_FILE), JSON.stringify(boot));
      if (factoryReset) await this.engine?.factoryReset();
      await this.stop();
      if (factoryReset) {
        rmSync(join(this.opts.stateDir, 'dm'), { recursive: true, force: true });
        rmSync(join(this.opts.stateDir, 'engine'), { recursive: true, force: true });
        rmSync(join(this.opts.stateDir, 'cwmp'), { recursive: true, force: true });
        rmSync(join(this.opts.stateDir, 'usp'), { recursive: true, force: true });
      }
      await this.start();
    };
    const next: Promise<void> = (this.restarting ?? Promise.resolve())
      .catch(() => undefined)
      .then(run)
      .finally(() => {
        if (this.restarting === next) this.restarting = undefined;
      });
    this.restarting = next;
    return next;
  }

  private loadDefaults(): Record<string, string> {
    const file = this.opts.defaultsFile;
    if (!file) return {};
    try {
      return parseValues(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new Error(`defaults file ${file}: ${(e as Error).message}`);
    }
  }

  private takeBootInfo(): BootInfo {
    const file = join(this.opts.stateDir, BOOT_FILE);
    const fallback: BootInfo = { cause: 'LocalReboot', reason: '', commandKey: '', firmwareUpdated: false };
    if (!existsSync(file)) return fallback;
    try {
      const b = JSON.parse(readFileSync(file, 'utf8')) as BootInfo;
      rmSync(file, { force: true });
      return { ...fallback, ...b, cause: b.cause as BootCause };
    } catch {
      rmSync(file, { force: true });
      return fallback;
    }
  }
}

/** The data model as a command's registration sees it: the handlers run once `ready` has settled. */
function commandsAfter(dm: DataModel, ready: Promise<void>): DataModel {
  const command: DataModel['command'] = (path, h) => dm.command(path, (req) => ready.then(() => h(req)));
  return new Proxy(dm, {
    get: (t, k) => (k === 'command' ? command : bound(t, k)),
  });
}

/** A promise and the function that settles it. */
function settledLater(): { promise: Promise<void>; settle: () => void } {
  let settle = (): void => {};
  const promise = new Promise<void>((r) => {
    settle = r;
  });
  return { promise, settle };
}

/** What the engine does for others (Promise-returning operations, not queries): called before it has
 *  started, they run once it has, so that none acts on records not yet loaded. */
const ENGINE_OPERATIONS = new Set<PropertyKey>([
  'install',
  'update',
  'uninstall',
  'setRequestedState',
  'restartUnit',
  'setEnabled',
  'setRunLevel',
  'restartEE',
  'createEE',
  'removeEE',
  'resetEE',
  'modifyConstraints',
  'removeVolume',
]);

function operationsAfter(engine: Engine, ready: Promise<void>): Engine {
  let settled = false;
  void ready.then(() => {
    settled = true;
  });
  return new Proxy(engine, {
    get: (t, k) => {
      const v = bound(t, k);
      if (settled || !ENGINE_OPERATIONS.has(k)) return v;
      return (...args: unknown[]) => ready.then(() => (v as (...a: unknown[]) => unknown)(...args));
    },
  });
}

function bound(t: object, k: PropertyKey): unknown {
  const v = Reflect.get(t, k, t);
  return typeof v === 'function' ? v.bind(t) : v;
}
