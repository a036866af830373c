// Device.LocalAgent.Periodic!: emitted for each controller every PeriodicNotifInterval seconds,
// aligned on PeriodicNotifTime; subscriptions deliver it to whoever asked.
import type { DataModel } from '../dm/datamodel.js';
import { controllers } from './controllers.js';

export class PeriodicNotifier {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly dm: DataModel) {}

  start(): void {
    this.arm();
    this.unsubscribe = this.dm.feed.subscribe(
      'Device.LocalAgent.Controller.',
      (c) => {
        if (c.kind !== 'value' || /\.(PeriodicNotifInterval|PeriodicNotifTime|Enable)$/.test(c.path)) this.arm();
      },
      ['value', 'add', 'delete'],
    );
  }

  stop(): void {
    this.unsubscribe?.();
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private arm(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const ctl of controllers(this.dm)) {
      const interval = Number(ctl.stored('PeriodicNotifInterval') ?? 0);
      if (ctl.stored('Enable') !== 'true' || interval <= 0) continue;
      const ref = Date.parse(ctl.stored('PeriodicNotifTime') ?? '') || 0;
      const tick = (): void => {
        const now = Date.now();
        const next = interval * 1000 - ((now - ref) % (interval * 1000));
        this.timers.set(
          ctl.path,
          setTimeout(() => {
            if (this.dm.node(ctl.path))
              this.dm.emit('Device.LocalAgent.Periodic!', {}, { kind: 'agent', component: 'periodic' });
            tick();
          }, next).unref(),
        );
      };
      tick();
    }
  }
}
