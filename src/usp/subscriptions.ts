// Device.LocalAgent.Subscription: turns the data model's change feed into Notify messages for each
// subscription's Recipient, and TriggerAction Config into Sets, as the changes happen (no polling).
// Handles NotifRetry with the controller's back-off until the NotifyResp or NotifExpiration (across
// restarts for persistent subscriptions with an expiration), TimeToLive, non-persistent
// subscriptions at boot, subscriptions of deleted controllers, and the Boot! ParameterMap. A change
// is matched against the subscriptions the index offers for its path, not against every one; a
// controller may hold X_CPE-AGENT_MaxSubscriptionsPerController of them, and the agent in all
// X_CPE-AGENT_MaxSubscriptions (reported as SupportedNumberOfSubscriptions), more is 7005.
import { randomUUID } from 'node:crypto';
import type { Change } from '../dm/change-feed.js';
import type { DataModel } from '../dm/datamodel.js';
import type { ObjectNode } from '../dm/tree.js';
import { listItems } from '../dm/types.js';
import type { Logger } from '../util/logger.js';
import { Retry, uspNotifRetry } from '../util/retry.js';
import { dateTime } from '../util/time.js';
import type { AccessCache } from './access.js';
import type { PlainMsg } from './codec.js';
import { controllerByEndpoint } from './controllers.js';
import type * as usp from './generated/usp-msg.js';
import type { NotifyOutbox, StoredNotify } from './notify-outbox.js';
import { SubscriptionIndex } from './subscription-index.js';
import { checkLimits, limitOf } from './subscription-limits.js';
import { refMatches } from './subscription-refs.js';
import { applyTriggerConfig, configures, notifies, registerTriggerSettings } from './subscription-trigger.js';

const LA = 'Device.LocalAgent.';
const SUB = `${LA}Subscription.`;
const AGENT = { kind: 'agent', component: 'subscriptions' } as const;

/** Sends a message to a controller over whatever MTP reaches it; false when none does now. */
export type Send = (endpointId: string, msg: PlainMsg) => boolean;

interface Pending {
  msg: PlainMsg;
  to: string;
  retry: Retry;
  expires: number;
  timer: NodeJS.Timeout | undefined;
  durable: boolean;
}
/** What a Notify reports: one member of its notification oneof. */
type Notification = Pick<usp.INotify, 'value_change' | 'obj_creation' | 'obj_deletion' | 'event' | 'oper_complete'>;

interface Prepared {
  notification: Notification;
  msg: PlainMsg;
}

/** The NotifType that reports each kind of change. */
const NOTIF_TYPE: Record<Change['kind'], string> = {
  value: 'ValueChange',
  add: 'ObjectCreation',
  delete: 'ObjectDeletion',
  event: 'Event',
  operation: 'OperationComplete',
};

export class Subscriptions {
  private readonly pending = new Map<string, Pending>();
  /** What an earlier run left in the outbox, held back until resumeStored(). */
  private stored: StoredNotify[] = [];
  /** Notifications written before their transaction's commit, by change and subscription row. */
  private readonly prepared = new Map<Change, Map<string, Prepared>>();
  private offBeforeCommit: (() => void) | undefined;
  private readonly ttlTimers = new Map<string, NodeJS.Timeout>();
  private unsubscribe: (() => void) | undefined;
  private readonly index: SubscriptionIndex;

  /** After the model is opened. */
  constructor(
    private readonly dm: DataModel,
    private readonly send: Send,
    private readonly access: AccessCache,
    private readonly log: Logger,
    private readonly outbox?: NotifyOutbox,
  ) {
    this.index = SubscriptionIndex.of(dm);
  }

  /** Registration with the data model; before the model is opened. */
  static register(dm: DataModel): void {
    dm.object(SUB.replace(/\.$/, '.{i}.'), {
      initial: (caller): Record<string, string> => {
        const now = dateTime();
        if (caller.kind !== 'usp') return { CreationDate: now };
        const ctl = controllerByEndpoint(dm, caller.endpointId);
        return ctl ? { Recipient: ctl.path.slice(0, -1), CreationDate: now } : { CreationDate: now };
      },
      canAdd: (table, caller) => checkLimits(dm, table, caller),
    });
    registerTriggerSettings(dm, SUB.replace(/\.$/, '.{i}.'));
    dm.param(`${LA}SupportedNumberOfSubscriptions`, {
      get: () => String(limitOf(dm, 'X_CPE-AGENT_MaxSubscriptions') ?? -1),
    });
  }

  /** At boot: drop non-persistent subscriptions, arm TimeToLive timers, start listening. */
  start(): void {
    for (const row of this.rows()) {
      if (row.stored('Persistent') !== 'true') this.dm.delete([row.path], AGENT);
    }
    for (const row of this.rows()) this.armTtl(row);
    this.unsubscribe = this.dm.feed.subscribe('Device.', (c) => this.onChange(c));
    this.offBeforeCommit = this.dm.feed.onBeforeCommit((changes) => this.prepare(changes));
    this.stored = (this.outbox?.load() ?? []).filter((n) => {
      const keep = n.expires > Date.now() && this.committed(n.check); // the controller: at resend
      if (!keep) this.outbox!.drop(n.msg.header.msg_id);
      return keep;
    });
  }

  /**
   * Notifications an earlier run left undelivered go out again, same msg_id, until acknowledged or
   * expired. Called once the engine has reported what the crash interrupted: until then a stored
   * OperationComplete or DUStateChange! must stay unacknowledged, so that the engine's repeat of it is
   * recognised (an acknowledgement forgets it) and not sent as a new notification.
   */
  resumeStored(): void {
    const stored = this.stored;
    this.stored = [];
    for (const n of stored) {
      const ctl = controllerByEndpoint(this.dm, n.to);
      if (!ctl) {
        this.outbox!.drop(n.msg.header.msg_id);
        continue;
      }
      const p: Pending = {
        msg: n.msg,
        to: n.to,
        retry: notifRetry(ctl),
        expires: n.expires,
        timer: undefined,
        durable: true,
      };
      this.pending.set(n.msg.header.msg_id, p);
      this.send(n.to, n.msg);
      this.log.debug({ to: n.to, msgId: n.msg.header.msg_id }, 'notification of an earlier run sent again');
      this.scheduleRetry(p);
    }
  }

  stop(): void {
    this.unsubscribe?.();
    this.offBeforeCommit?.();
    for (const p of this.pending.values()) clearTimeout(p.timer);
    for (const t of this.ttlTimers.values()) clearTimeout(t);
    this.stored = []; // stopped before resumeStored(): they stay in the outbox for the next run
    this.pending.clear();
    this.ttlTimers.clear();
  }

  /**
   * Whether a notification written before its transaction reached the journal describes what the model
   * holds now: if not, the crash came before the commit (or a later change superseded it).
   */
  private committed(check: StoredNotify['check']): boolean {
    if (!check) return true;
    if ('value' in check) {
      try {
        return this.dm.value(check.path) === check.value;
      } catch {
        return false;
      }
    }
    return Boolean(this.dm.node(check.path)) === check.exists;
  }

  /** A controller acknowledged a Notify sent with send_resp. */
  acknowledge(msgId: string): void {
    const p = this.pending.get(msgId);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(msgId);
    if (p.durable) this.outbox?.drop(msgId);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  private rows(): ObjectNode[] {
    return [...(this.dm.node('Device.LocalAgent.')?.tables.get('Subscription')?.rows.values() ?? [])];
  }

  private onChange(c: Change): void {
    if (c.path.startsWith(SUB)) this.maintain(c);
    if (c.kind === 'delete' && /^Device\.LocalAgent\.Controller\.\d+\.$/.test(c.path)) this.dropSubscriptionsOf(c.path);
    for (const row of this.index.candidates(NOTIF_TYPE[c.kind], c.path)) {
      if (row.stored('Enable') !== 'true') continue;
      // A notification prepared before the commit is already matched (and on disk).
      const prepared = this.prepared.get(c)?.get(row.path);
      const notification = prepared?.notification ?? this.match(row, c);
      if (!notification) continue;
      if (notifies(row)) this.notify(row, notification, prepared?.msg);
      if (configures(row)) applyTriggerConfig(this.dm, this.access, row, this.log);
    }
    this.prepared.delete(c);
  }

  private maintain(c: Change): void {
    if (c.kind === 'add') {
      const row = this.dm.node(c.path);
      if (row) this.armTtl(row);
    }
    // A TimeToLive set later counts from CreationDate as well; 0 ends the limit.
    if (c.kind === 'value' && c.path.endsWith('.TimeToLive')) {
      const row = this.dm.node(c.path.slice(0, -'TimeToLive'.length));
      if (row) this.armTtl(row);
    }
    if (c.kind === 'delete') {
      clearTimeout(this.ttlTimers.get(c.path));
      this.ttlTimers.delete(c.path);
    }
  }

  private dropSubscriptionsOf(ctlPath: string): void {
    const ref = ctlPath.slice(0, -1);
    const gone = this.index.ofRecipient(ref).map((r) => r.path);
    if (gone.length) this.dm.delete(gone, AGENT);
  }

  private armTtl(row: ObjectNode): void {
    const ttl = Number(row.stored('TimeToLive') ?? 0);
    clearTimeout(this.ttlTimers.get(row.path));
    this.ttlTimers.delete(row.path);
    if (!ttl) return;
    const created = Date.parse(row.stored('CreationDate') ?? '') || Date.now();
    const left = Math.max(0, created + ttl * 1000 - Date.now());
    this.ttlTimers.set(
      row.path,
      setTimeout(() => {
        this.ttlTimers.delete(row.path);
        if (this.dm.node(row.path)) this.dm.delete([row.path], AGENT);
      }, left).unref(),
    );
  }

  /** The Notify body for this change if the subscription asks for it. */
  private match(row: ObjectNode, c: Change): Notification | undefined {
    // A subscription begins after its own creation, which it does not report (TP-469 1.57).
    if (c.kind === 'add' && c.path === row.path) return undefined;
    const type = row.stored('NotifType');
    const refs = listItems(row.stored('ReferenceList') ?? '');
    const hit = (path: string, table = false) => refs.some((r) => refMatches(this.dm, r, path, table));
    switch (type) {
      case 'ValueChange':
        return c.kind === 'value' && hit(c.path)
          ? { value_change: { param_path: c.path, param_value: this.secured(c.path) ? '' : c.value } }
          : undefined;
      case 'ObjectCreation':
        return c.kind === 'add' && hit(c.path, true)
          ? { obj_creation: { obj_path: c.path, unique_keys: c.keys } }
          : undefined;
      case 'ObjectDeletion':
        return c.kind === 'delete' && hit(c.path, true) ? { obj_deletion: { obj_path: c.path } } : undefined;
      case 'Event': {
        if (c.kind !== 'event' || !hit(c.path)) return undefined;
        const dot = c.path.lastIndexOf('.');
        let params = { ...c.args } as Record<string, string>;
        if (c.path === 'Device.Boot!') params = { ...params, ParameterMap: this.bootParameters(row) };
        return { event: { obj_path: c.path.slice(0, dot + 1), event_name: c.path.slice(dot + 1), params } };
      }
      case 'OperationComplete': {
        if (
          c.kind !== 'operation' ||
          (c.operation.state !== 'complete' && c.operation.state !== 'failed') ||
          !hit(c.path)
        )
          return undefined;
        const dot = c.path.lastIndexOf('.');
        const o = c.operation;
        return {
          oper_complete: {
            obj_path: c.path.slice(0, dot + 1),
            command_name: c.path.slice(dot + 1),
            command_key: o.commandKey,
            ...(o.state === 'complete'
              ? { req_output_args: { output_args: o.output } }
              : { cmd_failure: { err_code: o.code, err_msg: o.message } }),
          },
        };
      }
      default:
        return undefined;
    }
  }

  private secured(path: string): boolean {
    const obj = path.slice(0, path.lastIndexOf('.') + 1);
    return Boolean(this.dm.node(obj)?.def.params.get(path.slice(obj.length))?.secured);
  }

  /** Boot! ParameterMap: the recipient controller's enabled BootParameter values, as JSON. */
  private bootParameters(row: ObjectNode): string {
    const ctl = this.dm.node(`${row.stored('Recipient')}.`);
    const map: Record<string, string> = {};
    for (const bp of ctl?.tables.get('BootParameter')?.rows.values() ?? []) {
      if (bp.stored('Enable') !== 'true') continue;
      try {
        for (const r of this.dm.get(bp.stored('ParameterName') ?? '', AGENT))
          for (const [k, v] of Object.entries(r.params)) map[`${r.path}${k}`] = v;
      } catch {
        /* a BootParameter naming nothing contributes nothing */
      }
    }
    return JSON.stringify(map);
  }

  /** The controller a notification goes to, if it is enabled and its role lets it see the path. */
  private recipient(row: ObjectNode, notification: Notification): { ctl: ObjectNode; to: string } | undefined {
    const ctl = this.dm.node(`${row.stored('Recipient')}.`);
    const to = ctl?.stored('EndpointID');
    if (!ctl || !to || ctl.stored('Enable') !== 'true') return undefined;
    const { kind, path } = subjectOf(notification);
    return this.access.of(to).allows(kind, 'n', path) ? { ctl, to } : undefined;
  }

  /** Whether the subscription's notifications must outlive a restart (see notify-outbox.ts). */
  private durable(row: ObjectNode): boolean {
    return Boolean(
      this.outbox &&
        row.stored('NotifRetry') === 'true' &&
        Number(row.stored('NotifExpiration') ?? 0) > 0 &&
        row.stored('Persistent') === 'true',
    );
  }

  private message(row: ObjectNode, notification: Notification): PlainMsg {
    return {
      header: { msg_id: randomUUID(), msg_type: 'NOTIFY' },
      body: {
        request: {
          notify: {
            subscription_id: row.stored('ID'),
            send_resp: row.stored('NotifRetry') === 'true',
            ...notification,
          },
        },
      },
    };
  }

  private expiresOf(row: ObjectNode): number {
    const expiration = Number(row.stored('NotifExpiration') ?? 0);
    return expiration ? Date.now() + expiration * 1000 : Infinity;
  }

  /** What a durable notification reports, CompleteTime aside (see notify()). */
  private keyOf(row: ObjectNode, notification: Notification): string {
    return (
      `${row.stored('ID')}|` +
      `${JSON.stringify(notification, (k, v: unknown) => (k === 'CompleteTime' ? undefined : v))}`
    );
  }

  /**
   * Before a transaction reaches the journal: the notifications of durable subscriptions are written
   * first, each with what must hold if the transaction did commit (checked after a crash).
   */
  private prepare(changes: readonly Change[]): () => void {
    const written: string[] = [];
    for (const c of changes) {
      if (c.kind !== 'value' && c.kind !== 'add' && c.kind !== 'delete') continue;
      for (const row of this.index.candidates(NOTIF_TYPE[c.kind], c.path)) {
        if (row.stored('Enable') !== 'true' || !this.durable(row) || !notifies(row)) continue;
        const notification = this.match(row, c);
        const r = notification && this.recipient(row, notification);
        if (!notification || !r) continue;
        const msg = this.message(row, notification);
        const check =
          c.kind === 'value' ? { path: c.path, value: c.value } : { path: c.path, exists: c.kind === 'add' };
        this.outbox!.put({ msg, to: r.to, expires: this.expiresOf(row), key: this.keyOf(row, notification), check });
        written.push(msg.header.msg_id);
        const byRow = this.prepared.get(c) ?? new Map<string, Prepared>();
        this.prepared.set(c, byRow.set(row.path, { notification, msg }));
      }
    }
    return () => {
      for (const id of written) this.outbox!.drop(id);
      for (const c of changes) this.prepared.delete(c);
    };
  }

  /** prepared: the message written before the commit, if there was one. */
  private notify(row: ObjectNode, notification: Notification, prepared?: PlainMsg): void {
    const r = this.recipient(row, notification);
    if (!r) return;
    const { to, ctl } = r;
    const retry = row.stored('NotifRetry') === 'true';
    const msg = prepared ?? this.message(row, notification);
    const expires = this.expiresOf(row);
    // On disk before it is sent: a crash right after the change that caused it loses nothing.
    const durable = this.durable(row);
    if (durable && !prepared) {
      // A crash after this write but before the engine forgot the operation has the restart report it
      // again: the copy still waiting here already says it (CompleteTime aside), so it is not sent twice.
      const key = this.keyOf(row, notification);
      if ((notification.oper_complete || notification.event) && this.outbox!.waiting(key)) {
        this.log.debug(
          { to, subscription: row.stored('ID') },
          'notification not sent: the same one is waiting for its NotifyResp',
        );
        return;
      }
      this.outbox!.put({ msg, to, expires, key });
    }
    const sent = this.send(to, msg);
    this.log.debug({ to, subscription: row.stored('ID'), msgId: msg.header.msg_id }, 'notification sent');
    if (!retry) {
      if (!sent) this.log.warn({ to, subscription: row.path }, 'notification dropped: no MTP reaches the controller');
      return;
    }
    const p: Pending = { msg, to, retry: notifRetry(ctl), expires, timer: undefined, durable };
    this.pending.set(msg.header.msg_id, p);
    this.scheduleRetry(p);
  }

  /** The next retry of a notification, or its end when NotifExpiration comes first. */
  private scheduleRetry(p: Pending): void {
    const { waitMs: wait, at } = p.retry.next()!;
    if (at > p.expires) {
      p.timer = setTimeout(
        () => {
          this.pending.delete(p.msg.header.msg_id);
          if (p.durable) this.outbox?.drop(p.msg.header.msg_id);
        },
        Math.max(0, p.expires - Date.now()),
      ).unref();
      return;
    }
    p.timer = setTimeout(() => {
      if (!this.pending.has(p.msg.header.msg_id)) return;
      this.send(p.to, p.msg);
      this.scheduleRetry(p);
    }, wait).unref();
  }
}

/**
 * A notification's retries with its controller's USPNotifRetry parameters (R-NOT.1), read at each retry.
 * A new one per notification: the count starts at zero for each (R-NOT.3), and after a restart (R-NOT.4).
 */
function notifRetry(ctl: ObjectNode): Retry {
  return new Retry(() =>
    uspNotifRetry(
      Number(ctl.stored('USPNotifRetryMinimumWaitInterval') ?? 5),
      Number(ctl.stored('USPNotifRetryIntervalMultiplier') ?? 2000),
    ),
  );
}

/** What a recipient must be allowed to be notified of: the parameter, event or object reported. */
function subjectOf(n: Notification): { kind: 'Param' | 'CommandEvent'; path: string } {
  if (n.value_change) return { kind: 'Param', path: n.value_change.param_path ?? '' };
  if (n.event) return { kind: 'CommandEvent', path: `${n.event.obj_path}${n.event.event_name}` };
  return { kind: 'Param', path: (n.obj_creation ?? n.obj_deletion ?? n.oper_complete)?.obj_path ?? '' };
}
