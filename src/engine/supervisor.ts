// Supervision of execution units: Idle -> Starting -> Active -> Stopping -> Idle, faults with the
// TR-181 ExecutionFaultCode values, AutoRestart with the TR-181 back-off, bounded logs, and
// adoption of processes that survived an agent restart (pid + start time, so a reused pid is
// never mistaken for our service). Processes are started by a backend; this file knows none.
import { EventEmitter } from 'node:events';
import { closeSync, existsSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import type { Logger } from '../util/logger.js';
import { autoRestart, Retry } from '../util/retry.js';
import { dateTime as now, UNKNOWN_TIME as UNKNOWN } from '../util/time.js';
import type { UnitNetwork } from './net/types.js';

export type EUStatus = 'Idle' | 'Starting' | 'Active' | 'Stopping' | 'Restarting';
export type FaultCode =
  | 'NoFault'
  | 'FailureOnStart'
  | 'FailureOnAutoStart'
  | 'FailureOnStop'
  | 'FailureWhileActive'
  | 'DependencyFailure'
  | 'UnStartable';

export interface Launch {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly user?: string | undefined;
  /** Host ids of a native service's process. */
  readonly uid?: number;
  readonly gid?: number;
  /** Keeps every capability of the EE's user namespace (a privileged DU in an LXC EE). */
  readonly privileged?: boolean;
  /** The backend that starts it (native host process, or inside a container). */
  readonly launcher: ProcessLauncher;
  /** Told the process's pid once it is started (its DU's cgroup takes it in). */
  readonly started?: (pid: number) => void;
  /** A process whose cgroups hold the unit's (an LXC EE's init); absent: the launched process's own. */
  readonly cgroupScope?: () => number;
  /** The backend applies the DU's own memory and CPU limits itself (an OCI runtime spec's cgroup). */
  readonly ownLimits?: boolean;
  /** Its network namespace: one the agent made to join, or a fresh loopback-only one (absent: its EE's). */
  readonly network?: UnitNetwork | undefined;
}

/** How a backend starts a unit's process and tells whether it still runs. */
export interface ProcessLauncher {
  spawn(euid: string, launch: Launch, logFd: number): { pid: number; exited: Promise<number | null> };
  /**
   * Delivers a stop signal where the process group is not the service (a runtime that forwards SIGTERM but dies
   * of SIGKILL and leaves its container behind); absent: the unit's process group is signalled.
   */
  signal?(euid: string, pid: number, sig: 'SIGTERM' | 'SIGKILL'): void;
}

export interface RestartPolicy {
  mode: 'never' | 'on-failure' | 'always';
  minWait: number;
  multiplier: number;
  maxWait: number;
  maxRetries: number;
  /** Seconds of running after which RetryCount starts again from 0 (TR-181 ResetPeriod; 0 or absent: never). */
  resetPeriod?: number;
}

export interface UnitState {
  status: EUStatus;
  fault: FaultCode;
  faultMessage: string;
  pid: number | undefined;
  retryCount: number;
  lastRestarted: string;
  nextRestart: string;
}

export interface UnitEvents {
  change: [euid: string, state: Readonly<UnitState>];
}

const LOG_LIMIT = 256 * 1024;
const NEVER = '9999-12-31T23:59:59Z';

/** A process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat). */
export function startTicks(pid: number): number | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[19]);
  } catch {
    return undefined;
  }
}

/** Resident memory of a process and all its descendants (a service's shell, lxc-attach's child ...). */
export function memoryKiB(pid: number | undefined, depth = 0): number {
  if (pid === undefined || depth > 16) return 0;
  let kib = 0;
  try {
    kib = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
  let children: string[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    /* no children file */
  }
  for (const c of children) kib += memoryKiB(Number(c), depth + 1);
  return kib;
}

interface Unit {
  readonly euid: string;
  launch: Launch;
  policy: RestartPolicy;
  /** The unit's own stop delay (its DU's ShutdownDelay), over what a caller of stop() passes. */
  graceMs: number | undefined;
  state: UnitState;
  wanted: 'Active' | 'Idle';
  stopping: Promise<void> | undefined;
  timer: NodeJS.Timeout | undefined;
  poll: NodeJS.Timeout | undefined;
  generation: number;
}

export class Supervisor extends EventEmitter<UnitEvents> {
  private readonly units = new Map<string, Unit>();

  constructor(
    private readonly files: (euid: string, kind: 'log' | 'pid') => string,
    private readonly log: Logger,
  ) {
    super();
  }

  state(euid: string): Readonly<UnitState> | undefined {
    return this.units.get(euid)?.state;
  }

  logText(euid: string): string {
    const f = this.files(euid, 'log');
    return existsSync(f) ? readFileSync(f, 'utf8') : '';
  }

  /** Registers a unit; adopts its process if one from before an agent restart still runs. */
  add(euid: string, launch: Launch, policy: RestartPolicy, graceMs?: number): void {
    const u: Unit = {
      euid,
      launch,
      policy,
      graceMs,
      wanted: 'Idle',
      stopping: undefined,
      timer: undefined,
      poll: undefined,
      generation: 0,
      state: {
        status: 'Idle',
        fault: 'NoFault',
        faultMessage: '',
        pid: undefined,
        retryCount: 0,
        lastRestarted: UNKNOWN,
        nextRestart: NEVER,
      },
    };
    this.units.set(euid, u);
    const pidFile = this.files(euid, 'pid');
    if (!existsSync(pidFile)) return;
    try {
      const { pid, ticks } = JSON.parse(readFileSync(pidFile, 'utf8')) as { pid: number; ticks: number };
      if (startTicks(pid) === ticks) {
        u.wanted = 'Active';
        this.set(u, { status: 'Active', pid });
        this.watch(u, pid, undefined);
        this.log.info({ euid, pid }, 'adopted a running execution unit');
        return;
      }
    } catch {
      /* a torn pid file is a unit that is not running */
    }
    rmSync(pidFile, { force: true });
  }

  /** Forgets a unit (after it was stopped). */
  remove(euid: string): void {
    const u = this.units.get(euid);
    if (!u) return;
    clearTimeout(u.timer);
    clearInterval(u.poll);
    this.units.delete(euid);
    rmSync(this.files(euid, 'pid'), { force: true });
    rmSync(this.files(euid, 'log'), { force: true });
  }

  /** A new launch applies from the unit's next start on. */
  setLaunch(euid: string, launch: Launch): void {
    const u = this.units.get(euid);
    if (u) u.launch = launch;
  }

  /** A new stop delay applies from the next stop on. */
  setGrace(euid: string, graceMs: number): void {
    const u = this.units.get(euid);
    if (u) u.graceMs = graceMs;
  }

  /** New restart settings apply from the next exit on. */
  setPolicy(euid: string, policy: RestartPolicy): void {
    const u = this.units.get(euid);
    if (u) u.policy = policy;
  }

  isRunning(euid: string): boolean {
    return this.units.get(euid)?.state.pid !== undefined;
  }

  /** Starts a unit; autostart marks a failure as FailureOnAutoStart. */
  start(euid: string, autostart = false): void {
    const u = this.units.get(euid);
    if (!u) return;
    u.wanted = 'Active';
    if (u.state.pid !== undefined || u.state.status === 'Starting') return;
    clearTimeout(u.timer);
    this.launch(u, autostart ? 'FailureOnAutoStart' : 'FailureOnStart');
  }

  private launch(u: Unit, faultIfFails: FaultCode): void {
    this.set(u, { status: 'Starting', nextRestart: NEVER });
    const gen = ++u.generation;
    let fd: number | undefined;
    try {
      const logFile = this.files(u.euid, 'log');
      if (existsSync(logFile) && statSync(logFile).size > LOG_LIMIT) truncateSync(logFile, 0);
      fd = openSync(logFile, 'a', 0o600);
      const { pid, exited } = u.launch.launcher.spawn(u.euid, u.launch, fd);
      // No fsync: a pid file lost in a power cut only means the service is started instead of adopted.
      writeFileSync(this.files(u.euid, 'pid'), JSON.stringify({ pid, ticks: startTicks(pid) ?? 0 }));
      this.set(u, { status: 'Active', pid, fault: 'NoFault', faultMessage: '' });
      this.watch(u, pid, exited, gen);
      this.resetRetriesAfter(u, gen);
      u.launch.started?.(pid);
    } catch (e) {
      // ExecutionFaultMessage is read by controllers: our words only, not the package's command.
      this.log.debug({ euid: u.euid, err: e }, 'execution unit could not be started');
      this.fail(u, faultIfFails, 'the service could not be started');
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  /** TR-181 ResetPeriod: a unit that stays up that long has its RetryCount start again. */
  private resetRetriesAfter(u: Unit, gen: number): void {
    const period = u.policy.resetPeriod ?? 0;
    if (period <= 0) return;
    setTimeout(() => {
      if (u.generation === gen && u.state.pid !== undefined && this.units.get(u.euid) === u)
        this.set(u, { retryCount: 0 });
    }, period * 1000).unref();
  }

  /** Watches for the end of the process: by its exit when it is our child, by polling when adopted. */
  private watch(u: Unit, pid: number, exited: Promise<number | null> | undefined, gen = u.generation): void {
    const ticks = startTicks(pid);
    const ended = (code: number | null) => {
      if (u.generation !== gen || this.units.get(u.euid) !== u) return;
      clearInterval(u.poll);
      rmSync(this.files(u.euid, 'pid'), { force: true });
      this.onExit(u, code);
    };
    if (exited) void exited.then(ended);
    else
      u.poll = setInterval(() => {
        if (startTicks(pid) !== ticks) ended(null);
      }, 500);
  }

  private onExit(u: Unit, code: number | null): void {
    const asked = u.wanted === 'Idle' || u.stopping !== undefined;
    this.set(u, { pid: undefined });
    if (asked) {
      this.set(u, { status: 'Idle' });
      return;
    }
    const failed = code !== 0;
    const why = code === null ? 'ended by a signal or while the agent was down' : `exited with code ${code}`;
    if (failed) this.set(u, { fault: 'FailureWhileActive', faultMessage: `the service ${why}` });
    const restart = u.policy.mode === 'always' || (u.policy.mode === 'on-failure' && failed);
    const next = restart ? restartsOf(u).next() : undefined; // none past MaximumRetryCount
    if (!next) {
      u.wanted = 'Idle';
      this.set(u, { status: 'Idle', nextRestart: NEVER });
      return;
    }
    this.set(u, { status: 'Idle', nextRestart: now(next.at) });
    u.timer = setTimeout(() => {
      if (u.wanted !== 'Active' || this.units.get(u.euid) !== u) return;
      this.set(u, { lastRestarted: now() });
      this.launch(u, 'FailureWhileActive');
    }, next.waitMs);
  }

  private fail(u: Unit, fault: FaultCode, message: string): void {
    u.wanted = 'Idle';
    this.set(u, { status: 'Idle', pid: undefined, fault, faultMessage: message });
  }

  /** Stops a unit: SIGTERM, then SIGKILL after the grace period (the unit's own where it has one). */
  stop(euid: string, defaultGraceMs = 10_000): Promise<void> {
    const u = this.units.get(euid);
    if (!u) return Promise.resolve();
    const graceMs = u.graceMs ?? defaultGraceMs;
    u.wanted = 'Idle';
    clearTimeout(u.timer);
    this.set(u, { nextRestart: NEVER });
    const pid = u.state.pid;
    if (pid === undefined) {
      if (u.state.status !== 'Idle') this.set(u, { status: 'Idle' });
      return Promise.resolve();
    }
    if (u.stopping) return u.stopping;
    this.set(u, { status: 'Stopping' });
    u.stopping = (async () => {
      const signal = (sig: 'SIGTERM' | 'SIGKILL') =>
        u.launch.launcher.signal ? u.launch.launcher.signal(euid, pid, sig) : signalGroup(pid, sig);
      signal('SIGTERM');
      const end = Date.now() + graceMs;
      while (u.state.pid !== undefined && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      if (u.state.pid !== undefined) {
        signal('SIGKILL');
        while (u.state.pid !== undefined && Date.now() < end + 5000) await new Promise((r) => setTimeout(r, 50));
        if (u.state.pid !== undefined)
          this.set(u, { fault: 'FailureOnStop', faultMessage: `process ${pid} did not stop` });
      }
    })().finally(() => {
      u.stopping = undefined;
    });
    return u.stopping;
  }

  /** Restart(): from Idle it starts; while stopping it is refused; otherwise stop then start. */
  async restart(euid: string): Promise<void> {
    const u = this.units.get(euid);
    if (!u) return;
    restartsOf(u).reset();
    if (u.state.pid !== undefined) {
      this.set(u, { status: 'Restarting' });
      await this.stop(euid);
    }
    this.start(euid);
  }

  /** Stops the agent's watching but leaves processes running, to be adopted by the next start. */
  detach(): void {
    for (const u of this.units.values()) {
      clearTimeout(u.timer);
      clearInterval(u.poll);
      u.generation++;
    }
    this.units.clear();
  }

  private set(u: Unit, patch: Partial<UnitState>): void {
    let changed = false;
    for (const [k, v] of Object.entries(patch) as [keyof UnitState, never][]) {
      if (u.state[k] !== v) {
        u.state[k] = v;
        changed = true;
      }
    }
    if (changed) this.emit('change', u.euid, { ...u.state });
  }
}

/**
 * A unit's TR-181 AutoRestart back-off, with its current settings. The count is the unit's RetryCount,
 * written without an event of its own: the status change that follows reports it, as one change.
 */
function restartsOf(u: Unit): Retry {
  const p = u.policy;
  return new Retry(() => autoRestart(p.minWait, p.multiplier, p.maxWait, p.maxRetries), {
    count: {
      get: () => u.state.retryCount,
      set: (n) => {
        u.state.retryCount = n;
      },
    },
  });
}

/** Signals the unit's process group (services run in their own session). */
function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
}
