// Notifications that must survive an agent restart: those of Persistent subscriptions with NotifRetry
// and a NotifExpiration. TR-181 lets retries with NotifExpiration 0 end at a restart, but one with an
// expiration is retried until then, restart or not; so it is on disk before it is first sent (one
// caused by a Set, Add or Delete even before the transaction reaches the journal, with what the model
// must hold if it did: checked after a crash), and leaves when the controller's NotifyResp comes or
// it expires. One small file per notification:
// writing one never rewrites the others, and a kill -9 leaves each whole or absent.
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { removeStaleTemps, writeFileAtomic } from '../util/atomic-file.js';
import type { PlainMsg } from './codec.js';

export interface StoredNotify {
  readonly msg: PlainMsg;
  /** The recipient controller's EndpointID. */
  readonly to: string;
  /** Epoch ms after which it is no longer retried. */
  readonly expires: number;
  /** What it reports, for recognising the same report made again after a restart. */
  readonly key: string;
  /** Written before its transaction's commit: what the model holds if that commit happened. */
  readonly check?:
    | { readonly path: string; readonly value: string }
    | { readonly path: string; readonly exists: boolean };
}

export class NotifyOutbox {
  /** key -> msg_id of what is stored, and back. */
  private readonly keys = new Map<string, string>();
  private readonly keyOf = new Map<string, string>();

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    removeStaleTemps(dir);
  }

  put(n: StoredNotify): void {
    writeFileAtomic(this.file(n.msg.header.msg_id), JSON.stringify(n));
    this.remember(n);
  }

  drop(msgId: string): void {
    rmSync(this.file(msgId), { force: true });
    const key = this.keyOf.get(msgId);
    this.keyOf.delete(msgId);
    if (key !== undefined && this.keys.get(key) === msgId) this.keys.delete(key);
  }

  /** Whether a notification saying this is stored and not yet acknowledged. */
  waiting(key: string): boolean {
    return this.keys.has(key);
  }

  /** What an earlier run left undelivered; unreadable files are removed. */
  load(): StoredNotify[] {
    const out: StoredNotify[] = [];
    for (const f of readdirSync(this.dir)) {
      if (f.endsWith('.json')) {
        try {
          const n = JSON.parse(readFileSync(join(this.dir, f), 'utf8')) as StoredNotify;
          if (
            typeof n.to === 'string' &&
            typeof n.expires === 'number' &&
            typeof n.key === 'string' &&
            n.msg?.header?.msg_id
          ) {
            out.push(n);
            this.remember(n);
            continue;
          }
        } catch {
          /* removed below */
        }
      }
      rmSync(join(this.dir, f), { force: true });
    }
    return out;
  }

  private remember(n: StoredNotify): void {
    this.keys.set(n.key, n.msg.header.msg_id);
    this.keyOf.set(n.msg.header.msg_id, n.key);
  }

  // msg_ids are ours (UUIDs), never a controller's: safe as file names.
  private file(msgId: string): string {
    return join(this.dir, `${msgId}.json`);
  }
}
