// What the CWMP client must not forget across restarts: events not yet delivered, its own requests
// the ACS has not acknowledged (TransferComplete, DUStateChangeComplete ...), parameters whose
// notification fired, notification attributes, ChangeDUState jobs in progress, queued transfers, scheduled informs,
// the retry count, and whether the ACS at the current URL has seen our BOOTSTRAP. One JSON file,
// replaced atomically at every change. A file that is not what this writes is moved aside
// (util/quarantine) and the client starts afresh: with a BOOTSTRAP, so the ACS provisions it again.

import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { removeStaleTemps, writeFileAtomic } from '../util/atomic-file.js';
import { isArrayOf, isNumber, isObject, isString, isStringMap } from '../util/json-shape.js';
import { silentLogger } from '../util/logger.js';
import { Quarantine } from '../util/quarantine.js';

export interface EventStruct {
  readonly code: string;
  readonly key: string;
}

/** A request of ours (the body's method element, cwmp: prefixed) and the events that announce it. */
export interface PendingRequest {
  readonly id: string;
  readonly method: string;
  readonly body: string;
  readonly events: readonly EventStruct[];
}

export type Notification = 0 | 1 | 2;
export interface Attribute {
  readonly n: Notification;
  readonly access: readonly string[];
}

export interface DuOp {
  readonly kind: 'Install' | 'Update' | 'Uninstall';
  readonly url: string;
  readonly uuid: string;
  readonly version: string;
  readonly username: string;
  readonly password: string;
  readonly eeRef: string;
}
export interface OpResult {
  readonly uuid: string;
  readonly duRef: string;
  readonly version: string;
  readonly state: 'Installed' | 'Uninstalled' | 'Failed';
  readonly resolved: boolean;
  readonly euRefs: string;
  readonly start: string;
  readonly complete: string;
  readonly fault: { code: number; message: string };
}
export interface CdsJob {
  readonly id: string;
  readonly commandKey: string;
  readonly ops: readonly DuOp[];
  /** Per operation, in order: one result per DU it acted on (an Update of all DUs has several). */
  results: OpResult[][];
}

/** What a Download asked for (TR-069 A.3.2.8). */
export interface DownloadRequest {
  readonly commandKey: string;
  readonly fileType: string;
  readonly url: string;
  readonly username: string;
  readonly password: string;
  readonly fileSize: number;
  readonly delaySeconds: number;
}

/** What an Upload asked for (TR-069 A.4.1.5). */
export interface UploadRequest {
  readonly commandKey: string;
  readonly fileType: string;
  readonly url: string;
  readonly username: string;
  readonly password: string;
  readonly delaySeconds: number;
}

export type TransferRequest =
  | ({ readonly kind: 'download' } & DownloadRequest)
  | ({ readonly kind: 'upload' } & UploadRequest);

/**
 * A transfer accepted and not yet done (GetAllQueuedTransfers): 1 not yet started (due: when it starts),
 * 2 in progress. Once done it leaves the queue; its TransferComplete waits among the pending requests.
 */
export interface QueuedTransfer {
  readonly id: string;
  readonly request: TransferRequest;
  readonly due: number;
  state: 1 | 2;
}

export interface CwmpStateData {
  bootstrappedUrl: string;
  events: EventStruct[];
  pending: PendingRequest[];
  changed: string[];
  /** Watched parameters' values as the ACS last learnt them (SetParameterAttributes, an Inform): what a
   *  change is measured against, also across a crash between a change's commit and its notice here. */
  reported: Record<string, string>;
  attributes: Record<string, Attribute>;
  connectionRequestPath: string;
  jobs: CdsJob[];
  transfers: QueuedTransfer[];
  scheduled: { due: number; key: string }[];
  retryCount: number;
}

const VALUE_CHANGE = '4 VALUE CHANGE';
/** Event codes that occur once per Inform, whatever their number (M events are kept per CommandKey). */
const SINGLE = /^(0|1|2|3|4|6|7|8|9|10|11|12|13|14) /;

export class CwmpState {
  readonly data: CwmpStateData;
  private readonly file: string;

  /**
   * quarantine: where a corrupt file is reported. The agent checks the file with its own at every
   * start (hasWork) before a client is made; a client on its own still never overwrites a bad file.
   */
  constructor(stateDir: string, quarantine = new Quarantine(stateDir, silentLogger)) {
    const dir = join(stateDir, 'cwmp');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    removeStaleTemps(dir);
    this.file = join(dir, 'state.json');
    const fresh: CwmpStateData = {
      bootstrappedUrl: '',
      events: [],
      pending: [],
      changed: [],
      reported: {},
      attributes: {},
      connectionRequestPath: `/cr/${randomBytes(12).toString('hex')}`,
      jobs: [],
      transfers: [],
      scheduled: [],
      retryCount: 0,
    };
    this.data = { ...fresh, ...quarantine.readJson(this.file, isStateData) };
    for (const job of this.data.jobs) job.results = job.results.map((r) => (Array.isArray(r) ? r : [r]));
    // On a full disk the client still starts; the state is written with its first change.
    try {
      this.save();
    } catch {
      /* see above */
    }
  }

  save(): void {
    writeFileAtomic(this.file, JSON.stringify(this.data));
  }

  /** Whether an earlier run left ChangeDUState jobs, transfers or requests for the ACS unfinished. */
  static hasWork(stateDir: string, quarantine: Quarantine): boolean {
    const d = quarantine.readJson(join(stateDir, 'cwmp', 'state.json'), isStateData);
    return (d?.jobs?.length ?? 0) > 0 || (d?.pending?.length ?? 0) > 0 || (d?.transfers?.length ?? 0) > 0;
  }

  addEvent(code: string, key = ''): void {
    const ev = this.data.events;
    if (SINGLE.test(code) ? ev.some((e) => e.code === code) : ev.some((e) => e.code === code && e.key === key)) return;
    ev.push({ code, key });
    this.save();
  }

  /** The same request twice (an outcome reported again after a crash) is kept once. */
  addPending(method: string, body: string, events: EventStruct[]): void {
    if (this.data.pending.some((p) => p.method === method && p.body === body)) return;
    this.data.pending.push({ id: randomBytes(6).toString('hex'), method, body, events });
    this.save();
  }

  dropPending(id: string): void {
    this.data.pending = this.data.pending.filter((p) => p.id !== id);
    this.save();
  }

  /** Events for the next Inform: those waiting, and those announcing unacknowledged requests. */
  informEvents(): EventStruct[] {
    const out: EventStruct[] = [];
    for (const e of [...this.data.events, ...this.data.pending.flatMap((p) => p.events)]) {
      if (
        SINGLE.test(e.code)
          ? !out.some((o) => o.code === e.code)
          : !out.some((o) => o.code === e.code && o.key === e.key)
      )
        out.push(e);
    }
    return out;
  }

  /**
   * After an InformResponse: what it carried is delivered. sent: the parameter values in the Inform,
   * recorded for those watched (notification above 0); a changed one that has changed again since, or that
   * changed after the Inform was built, stays for the next Inform, and if it is active, so does
   * "4 VALUE CHANGE": the change that came during the session has not been announced yet.
   */
  delivered(
    events: readonly EventStruct[],
    sent: Readonly<Record<string, string>>,
    current: (path: string) => string | undefined,
    notification: (path: string) => number,
  ): void {
    this.data.events = this.data.events.filter((e) => !events.some((d) => d.code === e.code && d.key === e.key));
    for (const [p, v] of Object.entries(sent)) if (notification(p) > 0) this.data.reported[p] = v;
    // A changed parameter whose object is gone can be reported no more: it leaves (and calls for no session).
    this.data.changed = this.data.changed.filter((p) => {
      const now = current(p);
      return now !== undefined && (!(p in sent) || now !== sent[p]);
    });
    if (this.data.changed.some((p) => notification(p) === 2) && !this.data.events.some((e) => e.code === VALUE_CHANGE))
      this.data.events.push({ code: VALUE_CHANGE, key: '' });
    this.data.retryCount = 0;
    this.save();
  }
}

// ---- what a state file must look like (fields an older agent did not write may be absent) ---------

const isEvent = (x: unknown): x is EventStruct => isObject(x) && isString(x.code) && isString(x.key);

const FIELDS: { readonly [K in keyof CwmpStateData]: (x: unknown) => boolean } = {
  bootstrappedUrl: isString,
  events: (x) => isArrayOf(x, isEvent),
  pending: (x) =>
    isArrayOf(
      x,
      (p): p is PendingRequest =>
        isObject(p) && isString(p.id) && isString(p.method) && isString(p.body) && isArrayOf(p.events, isEvent),
    ),
  changed: (x) => isArrayOf(x, isString),
  reported: isStringMap,
  attributes: (x) =>
    isObject(x) &&
    Object.values(x).every(
      (a) => isObject(a) && (a.n === 0 || a.n === 1 || a.n === 2) && isArrayOf(a.access, isString),
    ),
  connectionRequestPath: isString,
  jobs: (x) =>
    isArrayOf(
      x,
      (j): j is CdsJob =>
        isObject(j) &&
        isString(j.id) &&
        isString(j.commandKey) &&
        isArrayOf(j.ops, isObject) &&
        // An older agent kept one result per operation, not a list.
        isArrayOf(j.results, (r): r is unknown => isObject(r) || isArrayOf(r, isObject)),
    ),
  transfers: (x) => isArrayOf(x, isTransfer),
  scheduled: (x) =>
    isArrayOf(x, (e): e is { due: number; key: string } => isObject(e) && isNumber(e.due) && isString(e.key)),
  retryCount: (x) => Number.isInteger(x),
};

function isTransfer(t: unknown): t is QueuedTransfer {
  if (!isObject(t) || !isString(t.id) || !isNumber(t.due) || (t.state !== 1 && t.state !== 2)) return false;
  const r = t.request;
  return (
    isObject(r) &&
    (r.kind === 'download' || r.kind === 'upload') &&
    ['commandKey', 'fileType', 'url', 'username', 'password'].every((k) => isString(r[k])) &&
    isNumber(r.delaySeconds) &&
    (r.kind === 'upload' || isNumber(r.fileSize))
  );
}

function isStateData(x: unknown): x is Partial<CwmpStateData> {
  return (
    isObject(x) && Object.entries(x).every(([k, v]) => !Object.hasOwn(FIELDS, k) || FIELDS[k as keyof CwmpStateData](v))
  );
}
