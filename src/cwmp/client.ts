// The CWMP client: on while Device.ManagementServer.URL is set and EnableCWMP is true. It decides
// when a session runs (boot, bootstrap, periodic, scheduled, value change, connection request,
// pending results), runs one at a time, retries failed ones with the TR-069 back-off, and performs
// what the ACS asked for that outlives a session (Reboot, FactoryReset, Download, ChangeDUState).
// Of the last kind at most ManagementServer.X_CPE-AGENT_MaxRequestsInFlight are in progress at once
// (downloads not yet reported, DU jobs, scheduled informs); more are refused with 9004.
import type { DataModel } from '../dm/datamodel.js';
import type { Logger } from '../util/logger.js';
import { type LongTimer, setLongTimeout } from '../util/long-timer.js';
import { cwmpSessionRetry, Retry, retryWaitMs } from '../util/retry.js';
import { asWork } from '../util/work.js';
import { ConnectionRequestServer } from './connection-request.js';
import { type DownloadEnv, performDownload } from './download.js';
import { AutonomousDuReporter } from './du-autonomous.js';
import { DuStateRunner } from './du-state.js';
import { CwmpFault } from './faults.js';
import { forcedInformParams } from './forced-inform.js';
import { HEARTBEAT, Heartbeat } from './heartbeat.js';
import { PhasedTimer } from './phased-timer.js';
import { RecentLog } from './recent-log.js';
import { notificationOf } from './rpc/attributes.js';
import { CWMP_CALLER, type CwmpActions, type RpcContext } from './rpc/context.js';
import { CwmpSession } from './session.js';
import { CwmpState, type QueuedTransfer } from './state.js';
import { TransferQueue } from './transfers.js';
import { AcsConnection } from './transport.js';
import { performUpload } from './upload.js';

const MS = 'Device.ManagementServer.';

export interface CwmpClientOptions {
  readonly stateDir: string;
  readonly logger: Logger;
  /** Where the Connection Request server listens (port 0: any free port), and the host the ACS reaches it at. */
  readonly connectionRequest?: { readonly host: string; readonly port: number; readonly advertise?: string };
  /**
   * A program given a downloaded firmware image (its path as the only argument); none: firmware downloads fail with
   * 9010.
   */
  readonly firmwareCommand?: string;
  readonly tls?: {
    readonly ca?: string | undefined;
    readonly cert?: string | undefined;
    readonly key?: string | undefined;
  };
  readonly timeoutMs?: number;
  /** The agent restarts for Reboot (after the session) and resets for FactoryReset. */
  readonly reboot: (commandKey: string) => void;
  readonly factoryReset: () => void;
}

export class CwmpClient {
  readonly state: CwmpState;
  private readonly log: Logger;
  private readonly du: DuStateRunner;
  private readonly autonomous: AutonomousDuReporter;
  private readonly forced: string[];
  private cr: ConnectionRequestServer | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private retryTimer: NodeJS.Timeout | undefined;
  /** TR-069 session retry; its count is the state file's: Inform's RetryCount, kept across restarts. */
  private readonly retry = new Retry(
    () => cwmpSessionRetry(this.retryMinimum(), Number(this.dm.value(`${MS}CWMPRetryIntervalMultiplier`)) || 2000),
    {
      count: {
        get: () => this.state.data.retryCount,
        set: (n) => {
          this.state.data.retryCount = n;
          this.state.save();
        },
      },
    },
  );
  /** PERIODIC every PeriodicInformInterval, HEARTBEAT every HeartbeatPolicy.ReportingInterval, each in its phase. */
  private readonly periodic = new PhasedTimer(() => {
    this.state.addEvent('2 PERIODIC');
    this.kick();
  });
  private readonly heartbeat = new Heartbeat(() => this.kick());
  private readonly transfers: TransferQueue;
  /** Upload's vendor log file. */
  private readonly recent = new RecentLog();
  private readonly timers = new Set<LongTimer>();
  private afterSession: (() => void)[] = [];
  private offFeed: (() => void)[] = [];
  private stopped = false;
  /** The last session left requests of ours for later (HoldRequests, 8005): a timer brings them. */
  private pendingDeferred = false;
  /** When the last session with "4 VALUE CHANGE" began, and whether a throttled one is waiting. */
  private lastActiveSession = 0;
  private throttled = false;
  /** Sessions completed since start (tests and benchmarks wait on it). */
  sessions = 0;
  /** ChangeDUState requests accepted and not yet started. */
  private jobsToStart = 0;

  /** DU state changes are heard from the moment the client exists: the agent's recovery reports them next. */
  constructor(
    private readonly dm: DataModel,
    private readonly opts: CwmpClientOptions,
  ) {
    this.log = opts.logger.child({ component: 'cwmp' });
    this.state = new CwmpState(opts.stateDir);
    this.du = new DuStateRunner(dm, this.state, this.log, () => this.kick());
    this.autonomous = new AutonomousDuReporter(dm, this.state, this.log, () => this.kick());
    this.forced = forcedInformParams(dm);
    this.transfers = new TransferQueue(
      this.state,
      (t) => asWork(() => this.perform(t)),
      () => this.kick(),
    );
  }

  get enabled(): boolean {
    return this.dm.value(`${MS}URL`) !== '' && this.dm.value(`${MS}EnableCWMP`) === 'true';
  }

  async start(): Promise<void> {
    this.state.addEvent('1 BOOT');
    this.catchUpChanges();
    // Notifications: a change by anyone but the ACS, on a parameter it watches.
    this.offFeed.push(
      this.dm.feed.subscribe(
        'Device.',
        (c) => {
          if (c.kind !== 'value') return;
          if (c.cause.kind === 'cwmp') {
            // The ACS set it: it knows the new value, no notice to give.
            if (c.path in this.state.data.reported) {
              this.state.data.reported[c.path] = c.value;
              this.state.save();
            }
            return;
          }
          const n = notificationOf(this.state, this.dm, c.path);
          if (n === 0) return;
          if (!this.state.data.changed.includes(c.path)) {
            this.state.data.changed.push(c.path);
            this.state.save();
          }
          if (n === 2) {
            this.state.addEvent('4 VALUE CHANGE');
            this.kickThrottled();
          }
        },
        ['value'],
      ),
    );
    this.offFeed.push(
      this.dm.feed.subscribe(
        [
          `${MS}URL`,
          `${MS}EnableCWMP`,
          `${MS}PeriodicInformEnable`,
          `${MS}PeriodicInformInterval`,
          `${MS}PeriodicInformTime`,
          `${MS}HeartbeatPolicy.Enable`,
          `${MS}HeartbeatPolicy.ReportingInterval`,
          `${MS}HeartbeatPolicy.InitiationTime`,
        ],
        (c) => {
          if (c.kind !== 'value') return;
          this.schedulePeriodic();
          // A new ACS (BOOTSTRAP) or CWMP turned on: talk now; periodic settings only move the timer.
          if (c.path === `${MS}URL`) this.retry.reset();
          if (c.path === `${MS}URL` || c.path === `${MS}EnableCWMP`) this.kick();
        },
        ['value'],
      ),
    );
    for (const s of this.state.data.scheduled) this.armScheduled(s);
    this.transfers.resume();
    this.schedulePeriodic();
    this.kick();
  }

  /**
   * Watched parameters whose value is no longer the one the ACS last learnt: changed while the client
   * was down, or committed just before a crash that came before the change could be noted. (An ACS's
   * own write cut off the same way is reported too: a needless notice rather than a lost one.)
   */
  private catchUpChanges(): void {
    for (const [path, v] of Object.entries(this.state.data.reported)) {
      const now = this.valueOrUndefined(path);
      if (now === undefined) {
        delete this.state.data.reported[path];
        continue;
      } // its object is gone
      const n = notificationOf(this.state, this.dm, path);
      if (n === 0 || now === v) continue;
      if (!this.state.data.changed.includes(path)) this.state.data.changed.push(path);
      if (n === 2) this.state.addEvent('4 VALUE CHANGE');
    }
    this.state.save();
  }

  private valueOrUndefined(path: string): string | undefined {
    try {
      return this.dm.value(path);
    } catch {
      return undefined;
    }
  }

  /**
   * ChangeDUState jobs a restart interrupted go on. Called after the agent reported what it recovered
   * (DUStateChange! events), so that an operation the restart cut short fills its slot instead of
   * running twice.
   */
  resumeJobs(): void {
    this.du.resume();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const off of this.offFeed) off();
    this.du.close();
    this.autonomous.close();
    this.transfers.close();
    this.periodic.stop();
    this.heartbeat.stop();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const t of this.timers) t.cancel();
    await this.cr?.close();
    await this.running?.catch(() => undefined);
  }

  /** Asks for a session: now, or after the running one; a pending retry keeps its back-off. */
  kick(): void {
    if (this.stopped || !this.enabled) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.retryTimer) return;
    // Work for the idle collector: it never runs in the middle of a session.
    this.running = asWork(() => this.session()).finally(() => {
      this.running = undefined;
      for (const a of this.afterSession.splice(0)) a();
      // Only what is still undelivered calls for another session (not, say, a kick for an event the
      // Inform that just ended already carried).
      if (this.again && !this.retryTimer) {
        this.again = false;
        if (this.undelivered()) this.kick();
      }
    });
  }

  /** Something waits for a session now: events (but a throttled VALUE CHANGE), requests not put off. */
  private undelivered(): boolean {
    return (
      this.heartbeat.pending ||
      this.state.data.events.some((e) => !(this.throttled && e.code === '4 VALUE CHANGE')) ||
      (this.state.data.pending.length > 0 && !this.pendingDeferred)
    );
  }

  /**
   * An active notification: a session now, unless one for an active notification began less than
   * DefaultActiveNotificationThrottle seconds ago; then when that time is up (the changes gather).
   */
  private kickThrottled(): void {
    const wait =
      this.lastActiveSession +
      (Number(this.dm.value(`${MS}DefaultActiveNotificationThrottle`)) || 0) * 1000 -
      Date.now();
    if (wait <= 0) {
      this.kick();
      return;
    }
    if (this.throttled) return;
    this.throttled = true;
    this.arm(wait, () => {
      this.throttled = false;
      this.kick();
    });
  }

  /** Waits until no session runs or is due (tests). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** The Connection Request server starts with the first session (CWMP may be off until then). */
  private async ensureConnectionRequest(): Promise<void> {
    if (this.cr || !this.opts.connectionRequest || this.dm.value(`${MS}HTTPConnectionRequestEnable`) === 'false')
      return;
    const { host, port, advertise } = this.opts.connectionRequest;
    const cr = new ConnectionRequestServer({
      host,
      port,
      path: this.state.data.connectionRequestPath,
      credentials: () => ({
        username: this.dm.value(`${MS}ConnectionRequestUsername`),
        password: this.dm.value(`${MS}ConnectionRequestPassword`),
      }),
      onRequest: () => {
        this.state.addEvent('6 CONNECTION REQUEST');
        this.kick();
      },
    });
    let url = await cr.listen();
    this.cr = cr;
    if (advertise) url = url.replace(/^http:\/\/[^/]+:/, `http://${advertise}:`);
    if (this.dm.value(`${MS}ConnectionRequestURL`) !== url) this.dm.update(MS, { ConnectionRequestURL: url }, 'cwmp');
  }

  private async session(): Promise<void> {
    const url = this.dm.value(`${MS}URL`);
    try {
      await this.ensureConnectionRequest();
    } catch (e) {
      this.log.error({ err: e }, 'the Connection Request server could not listen');
    }
    if (this.state.data.bootstrappedUrl !== url) this.state.addEvent('0 BOOTSTRAP');
    const beat = this.heartbeat.take(this.state.data.retryCount > 0, this.state.data.bootstrappedUrl !== url);
    const events = beat ? [{ code: HEARTBEAT, key: '' }] : this.state.informEvents();
    if (events.some((e) => e.code === '4 VALUE CHANGE')) this.lastActiveSession = Date.now();
    const pending = beat ? [] : this.state.data.pending.map((p) => p.id);
    const changed = beat ? [] : [...this.state.data.changed];
    const conn = new AcsConnection({
      url,
      username: this.dm.value(`${MS}Username`),
      password: this.dm.value(`${MS}Password`),
      timeoutMs: this.opts.timeoutMs ?? 30_000,
      ...this.opts.tls,
    });
    const session = new CwmpSession(conn, this.context(), this.log, (sent) => {
      if (events.some((e) => e.code === '0 BOOTSTRAP')) this.state.data.bootstrappedUrl = url;
      this.state.delivered(
        events.filter((e) => !e.code.startsWith('7 ') && !e.code.startsWith('11 ') && !e.code.startsWith('12 ')),
        sent,
        (p) => this.valueOrUndefined(p),
        (p) => notificationOf(this.state, this.dm, p),
      );
    });
    try {
      const out = await session.run({
        events,
        parameters: this.forced,
        changed,
        pending,
        retryCount: this.state.data.retryCount,
      });
      this.sessions++;
      const done = { events: events.map((e) => e.code), served: out.requestsServed };
      this.log.info(done, 'CWMP session done');
      this.recent.add('session done', done);
      // Events that arrived during the session, and requests of ours that came up meanwhile, need
      // another one; requests the ACS held or asked to retry wait a little (no session loop with it).
      if (out.deferred && !this.pendingDeferred) {
        // one timer, however many sessions put them off
        this.pendingDeferred = true;
        this.arm(retryWaitMs(cwmpSessionRetry(this.retryMinimum(), 2000), 1), () => {
          this.pendingDeferred = false;
          this.kick();
        });
      } else if (!out.deferred) this.pendingDeferred = false;
      if (this.undelivered()) this.again = true;
    } catch (e) {
      // A failed heartbeat is dropped (heartbeat.ts); a retry is for what else waits.
      if (beat && !this.undelivered()) {
        this.log.warn({ err: (e as Error).message }, 'CWMP heartbeat session failed; not retried');
        return;
      }
      // TR-069 sets no limit on session retries: next() always gives a wait.
      const { n, waitMs: wait } = this.retry.next()!;
      const failed = { err: (e as Error).message, retry: n, waitMs: wait };
      this.log.warn(failed, 'CWMP session failed; retrying');
      this.recent.add('session failed', failed);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.kick();
      }, wait);
    } finally {
      await conn.close();
    }
  }

  private retryMinimum(): number {
    return Number(this.dm.value(`${MS}CWMPRetryMinimumWaitInterval`)) || 5;
  }

  private context(): RpcContext {
    const actions: CwmpActions = {
      // A device going down starts no further session: "M Reboot" goes out after the restart, with "1 BOOT".
      reboot: (key) => {
        this.state.addEvent('M Reboot', key);
        this.afterSession.push(() => {
          this.stopped = true;
          this.opts.reboot(key);
        });
      },
      factoryReset: () => {
        this.afterSession.push(() => {
          this.stopped = true;
          this.opts.factoryReset();
        });
      },
      scheduleInform: (delay, key) => {
        this.admit('ScheduleInform');
        const s = { due: Date.now() + delay * 1000, key };
        this.state.data.scheduled.push(s);
        this.state.save();
        this.armScheduled(s);
      },
      download: (req) => this.queueTransfer('Download', { kind: 'download', ...req }),
      upload: (req) => this.queueTransfer('Upload', { kind: 'upload', ...req }),
      cancelTransfer: (key) => this.transfers.cancel(key),
      queuedTransfers: () => this.transfers.list(),
      changeDUState: (ops, key) => {
        this.admit('ChangeDUState');
        this.jobsToStart++;
        this.afterSession.push(() => {
          this.jobsToStart--;
          this.du.start(ops, key);
        });
      },
      setParameterKey: (key) => this.dm.update(MS, { ParameterKey: key }, 'cwmp'),
    };
    return { dm: this.dm, caller: CWMP_CALLER, state: this.state, actions };
  }

  /** 9004 when the ACS already has X_CPE-AGENT_MaxRequestsInFlight requests whose work goes on. */
  private admit(method: string): void {
    const limit = Number(this.dm.value(`${MS}X_CPE-AGENT_MaxRequestsInFlight`));
    const inProgress =
      this.transfers.size + this.jobsToStart + this.state.data.jobs.length + this.state.data.scheduled.length;
    if (inProgress >= limit)
      throw new CwmpFault(
        9004,
        `resources exceeded: ${inProgress} requests (downloads, DU changes, scheduled informs) are in progress, ` +
          `the most this device takes; ${method} refused`,
      );
  }

  private armScheduled(s: { due: number; key: string }): void {
    this.arm(Math.max(0, s.due - Date.now()), () => {
      this.state.data.scheduled = this.state.data.scheduled.filter(
        (x) => x !== s && !(x.due === s.due && x.key === s.key),
      );
      this.state.addEvent('3 SCHEDULED');
      this.state.addEvent('M ScheduleInform', s.key);
      this.kick();
    });
  }

  private arm(ms: number, fn: () => void): void {
    // A session that ends while the client stops runs its after-session work then: a timer armed
    // now would outlive stop() (and keep the process up for a Download's DelaySeconds).
    if (this.stopped) return;
    const t = setLongTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  /** PERIODIC and HEARTBEAT in phase with their reference times (TR-069 3.2.1); none: one interval from now. */
  private schedulePeriodic(): void {
    const hb = `${MS}HeartbeatPolicy.`;
    this.periodic.schedule(
      !this.stopped && this.dm.value(`${MS}PeriodicInformEnable`) === 'true',
      Number(this.dm.value(`${MS}PeriodicInformInterval`)) || 86400,
      this.dm.value(`${MS}PeriodicInformTime`),
    );
    this.heartbeat.schedule(
      !this.stopped && this.dm.value(`${hb}Enable`) === 'true',
      Number(this.dm.value(`${hb}ReportingInterval`)) || 60,
      this.dm.value(`${hb}InitiationTime`),
    );
  }

  /** A Download or Upload: queued now (persisted, 9004 past the limit), started after this session. */
  private queueTransfer(method: string, req: QueuedTransfer['request']): void {
    this.admit(method);
    // GetAllQueuedTransfers lists at most 16 (TR-069's TransferList): no more are queued.
    if (this.transfers.size >= 16) throw new CwmpFault(9004, `16 transfers are queued already; ${method} refused`);
    const t = this.transfers.add(req);
    this.afterSession.push(() => this.transfers.arm(t));
  }

  private perform(t: QueuedTransfer): Promise<void> {
    const env: DownloadEnv = {
      dm: this.dm,
      state: this.state,
      log: this.log,
      caFile: this.opts.tls?.ca,
      firmwareCommand: this.opts.firmwareCommand,
    };
    const { kind, commandKey, fileType } = t.request;
    this.recent.add(`${kind} started`, { commandKey, fileType });
    return kind === 'download'
      ? performDownload(t.request, env)
      : performUpload(t.request, env, () => this.recent.text());
  }
}
