// Execution units as the operator drives them: SetRequestedState(), Restart(), AutoStart, RunLevel and
// the AutoRestart policy (kept with the DU so that they hold across restarts), and who a unit runs as.
import type { EngineParts } from './context.js';
import { graceOf } from './du-settings.js';
import { EngineCode, EngineError } from './errors.js';
import type { UserIds } from './ids/users.js';
import type { RestartPolicy } from './supervisor.js';
import type { DURecord, EURecord, UnitRestart } from './types.js';
import { policyOf } from './unit-launch.js';

/** What an operator may change about a unit (EU row writes). */
export interface UnitConfig {
  autoStart?: boolean;
  runLevel?: number;
  restart?: UnitRestart;
  /** ShutdownDelay in seconds. */
  shutdownDelayS?: number;
}

export class Units {
  constructor(private readonly p: EngineParts) {}

  private require(euid: string): { du: DURecord; eu: EURecord } {
    const found = this.p.store.unitOf(euid);
    if (!found) throw new EngineError(EngineCode.InvalidValue, `execution unit ${euid} does not exist`);
    return found;
  }

  /** SetRequestedState(): Active starts, Idle stops; Active while stopping is refused. */
  async setRequestedState(euid: string, state: 'Active' | 'Idle'): Promise<void> {
    const found = this.require(euid);
    const ee = this.p.store.requireEE(found.du.ee);
    const cur = this.p.supervisor.state(euid)?.status;
    found.eu.requested = state;
    this.p.store.saveDUs();
    if (state === 'Active') {
      if (!ee.enabled) throw new EngineError(EngineCode.InvalidValue, `execution environment ${ee.name} is disabled`);
      if (cur === 'Stopping')
        throw new EngineError(EngineCode.InvalidValue, `${euid} is stopping; ask again once it is Idle`);
      this.p.supervisor.start(euid);
    } else {
      await this.p.supervisor.stop(euid, this.p.grace);
      await this.p.volumes.wiped(); // an UntilStopped volume is empty once the stop is answered
    }
  }

  /**
   * What an operator may change about a unit: AutoStart, RunLevel and the AutoRestart policy. Kept
   * with the DU so that it holds across restarts and until an Update replaces the unit.
   */
  configure(euid: string, c: UnitConfig): void {
    const found = this.require(euid);
    if (c.autoStart !== undefined) found.eu.autoStart = c.autoStart;
    if (c.runLevel !== undefined) found.eu.runLevel = c.runLevel;
    if (c.restart !== undefined) found.eu.restart = c.restart;
    if (c.shutdownDelayS !== undefined) found.eu.shutdownDelayS = c.shutdownDelayS;
    this.p.store.saveDUs();
    this.p.supervisor.setPolicy(euid, policyOf(found.eu));
    this.p.supervisor.setGrace(euid, graceOf(found.du.settings, this.p.grace, found.eu.shutdownDelayS));
  }

  async restart(euid: string): Promise<void> {
    const found = this.require(euid);
    if (this.p.supervisor.state(euid)?.status === 'Stopping')
      throw new EngineError(EngineCode.InvalidUnitState, `${euid} is stopping`);
    if (!this.p.store.requireEE(found.du.ee).enabled)
      throw new EngineError(EngineCode.InvalidValue, `execution environment ${found.du.ee} is disabled`);
    await this.p.supervisor.restart(euid);
  }

  /** The restart policy in force for a unit (what the model shows in AutoRestart). */
  policy(euid: string): Readonly<RestartPolicy> | undefined {
    const found = this.p.store.unitOf(euid);
    return found ? policyOf(found.eu) : undefined;
  }

  /** Who a unit runs as, inside its EE and on the host; undefined when it is unknown or its user is gone. */
  user(euid: string): { inside: UserIds; host: UserIds } | undefined {
    const found = this.p.store.unitOf(euid);
    if (!found) return undefined;
    try {
      const host = this.p.identity.hostUserOf(found.du, found.eu);
      const ids = this.p.store.ee(found.du.ee)?.ids;
      return { inside: ids ? { uid: host.uid - ids.base, gid: host.gid - ids.base } : host, host };
    } catch {
      return undefined;
    }
  }
}
