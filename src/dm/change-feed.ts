// The change feed: every committed value change, object creation and deletion, event and
// operation completion, in commit order, each delivered once to every matching subscriber with
// the caller that caused it. USP notifications and CWMP informs are both built on it.
import type { TransferFailure } from '../util/download.js';
import type { Caller } from './caller.js';

/**
 * What an event says beyond its arguments, for listeners in this process only: no wire message
 * carries it (TR-181 defines the arguments, and USP sends those alone).
 */
export interface EventDetail {
  /** The command key of the operation whose end the event reports (DUStateChange!: the request's). */
  readonly commandKey?: string;
  /** A failed file transfer's kind, which CWMP tells apart (9012..9017) and USP's codes do not. */
  readonly transfer?: TransferFailure;
}

export type Change =
  | {
      readonly kind: 'value';
      readonly path: string;
      readonly value: string;
      readonly old: string;
      readonly cause: Caller;
    }
  | {
      readonly kind: 'add';
      readonly path: string;
      readonly keys: Readonly<Record<string, string>>;
      readonly cause: Caller;
    }
  | { readonly kind: 'delete'; readonly path: string; readonly cause: Caller }
  | {
      readonly kind: 'event';
      readonly path: string;
      readonly args: Readonly<Record<string, string>>;
      readonly cause: Caller;
      readonly detail?: EventDetail;
    }
  | { readonly kind: 'operation'; readonly path: string; readonly operation: OperationChange; readonly cause: Caller };

/** Life of an operation, for the Request table and OperationComplete notifications. */
export type OperationChange =
  | { readonly state: 'started'; readonly id: number; readonly commandKey: string }
  | {
      readonly state: 'progress';
      readonly id: number;
      readonly commandKey: string;
      readonly percent: number;
      readonly message: string;
    }
  | {
      readonly state: 'complete';
      readonly id: number;
      readonly commandKey: string;
      readonly output: Readonly<Record<string, string>>;
    }
  | {
      readonly state: 'failed';
      readonly id: number;
      readonly commandKey: string;
      readonly code: number;
      readonly message: string;
    };

export type ChangeListener = (change: Change) => void;

/**
 * A pattern matches a path when each dot-separated segment is equal or '*'; a pattern ending in '.'
 * is a partial path and matches everything below it (the object itself included).
 */
export function compilePattern(pattern: string): (path: string) => boolean {
  if (!pattern.includes('*')) {
    return pattern.endsWith('.') ? (p) => p.startsWith(pattern) : (p) => p === pattern;
  }
  const partial = pattern.endsWith('.');
  const want = pattern.split('.');
  if (partial) want.pop();
  return (path) => {
    const got = path.split('.');
    if (got[got.length - 1] === '') got.pop();
    if (partial ? got.length < want.length : got.length !== want.length) return false;
    for (let i = 0; i < want.length; i++) if (want[i] !== '*' && want[i] !== got[i]) return false;
    return true;
  };
}

interface Subscription {
  match: (path: string) => boolean;
  kinds: ReadonlySet<Change['kind']> | undefined;
  listener: ChangeListener;
}

/**
 * Called with a transaction's changes after they are applied in memory and before they are written to
 * the journal, by whoever must record something durable about them first (a notification that must
 * survive a crash right after the commit). Returns how to take it back if the journal write fails.
 */
export type BeforeCommit = (changes: readonly Change[]) => () => void;

export class ChangeFeed {
  private readonly subs = new Set<Subscription>();
  private readonly beforeCommits = new Set<BeforeCommit>();
  private onError: (e: unknown, c: Change) => void = () => {};

  onBeforeCommit(fn: BeforeCommit): () => void {
    this.beforeCommits.add(fn);
    return () => {
      this.beforeCommits.delete(fn);
    };
  }

  /** @internal the data model's commit: every before-commit hook, and their undos. */
  beforeCommit(changes: readonly Change[]): (() => void)[] {
    const undos: (() => void)[] = [];
    for (const fn of this.beforeCommits) {
      try {
        undos.push(fn(changes));
      } catch (e) {
        if (changes[0]) this.onError(e, changes[0]);
      }
    }
    return undos;
  }

  /** Listener errors are reported here and never stop delivery to the others. */
  setErrorHandler(h: (e: unknown, c: Change) => void): void {
    this.onError = h;
  }

  subscribe(patterns: string | string[], listener: ChangeListener, kinds?: Change['kind'][]): () => void {
    const matchers = (Array.isArray(patterns) ? patterns : [patterns]).map(compilePattern);
    const sub: Subscription = { match: (p) => matchers.some((m) => m(p)), kinds: kinds && new Set(kinds), listener };
    this.subs.add(sub);
    return () => {
      this.subs.delete(sub);
    };
  }

  publish(changes: readonly Change[]): void {
    for (const c of changes) {
      for (const s of this.subs) {
        if (s.kinds && !s.kinds.has(c.kind)) continue;
        if (!s.match(c.path)) continue;
        try {
          s.listener(c);
        } catch (e) {
          this.onError(e, c);
        }
      }
    }
  }

  get size(): number {
    return this.subs.size;
  }
}
