// Gives memory back once a burst of work is over. V8 shrinks its heap by itself only after a full
// collection, and a burst served by young-generation scavenges alone (installing a few DUs, a CWMP
// session) can leave the heap tens of MB above what it holds, for as long as the agent then
// sits idle, which is most of its life on a device. So: every few seconds, when no work is in
// progress (the explicit signal of util/work.ts), the heap stopped growing and it stands well above
// its size after the last full collection, collect once. A heuristic alone (heap quiet) fired in the
// middle of work that happened to allocate little in one period; the busy signal is what rules that out.
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { working } from './work.js';

export interface IdleGcOptions {
  /** How often the heap is looked at. */
  readonly periodMs: number;
  /** Growth since the last full collection that is worth one. */
  readonly slackBytes: number;
  /** Allocation within one period below which the heap counts as quiet. */
  readonly quietBytes: number;
}

/** What the collector reads and does; tests inject their own to be deterministic. */
export interface IdleGcHooks {
  readonly heap: () => { total: number; used: number };
  readonly gc: () => void;
  readonly busy: () => boolean;
  /** Calls `tick` every `ms`; returns the stop. */
  readonly every: (ms: number, tick: () => void) => () => void;
}

const DEFAULTS: IdleGcOptions = { periodMs: 5000, slackBytes: 8 * 2 ** 20, quietBytes: 2 ** 20 };

/**
 * V8's own full collection, compacting. The service file starts node with --expose-gc, which puts gc() on
 * the global object; without it the flag set now exposes it to a new context only, and that context costs
 * 1.7 MB of RSS for as long as the agent runs.
 * A plain full collection frees objects but keeps every page that still holds one live object: after a
 * burst of 10,000 Gets that kept some 7 MB of old-space pages dirty, scattered with survivors. Compacting
 * moves those survivors together and gives the emptied pages back. Only this collection compacts:
 * V8's own collections during work keep their cheaper default.
 */
function fullGc(): () => void {
  const exposed = (globalThis as { gc?: unknown }).gc;
  let gc: () => void;
  if (typeof exposed === 'function') gc = exposed as () => void;
  else {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  return () => {
    setFlagsFromString('--compact-on-every-full-gc');
    try {
      // V8 drops the bytecode of functions not run in its last 5 full collections (--bytecode-old-age), and
      // with the service file's --flush-baseline-code their baseline code: an idle agent collects so rarely
      // that what only the start or a burst ran would otherwise stay.
      for (let i = 0; i < 5; i++) gc();
    } finally {
      setFlagsFromString('--no-compact-on-every-full-gc');
    }
  };
}

function realHooks(): IdleGcHooks {
  return {
    heap: () => {
      const h = getHeapStatistics();
      return { total: h.total_heap_size, used: h.used_heap_size };
    },
    gc: fullGc(),
    busy: working,
    // The timer never keeps the process alive.
    every: (ms, tick) => {
      const t = setInterval(tick, ms);
      t.unref();
      return () => clearInterval(t);
    },
  };
}

/** Starts the watch; the returned function stops it. */
export function startIdleGc(
  opts: Partial<IdleGcOptions> = {},
  onCollect?: (freedBytes: number) => void,
  hooks: Partial<IdleGcHooks> = {},
): () => void {
  const o = { ...DEFAULTS, ...opts };
  const h = { ...(hooks.heap && hooks.gc && hooks.busy && hooks.every ? {} : realHooks()), ...hooks } as IdleGcHooks;
  const start = h.heap();
  let base = start.total;
  let lastUsed = start.used;
  return h.every(o.periodMs, () => {
    const now = h.heap();
    const quiet = Math.abs(now.used - lastUsed) < o.quietBytes;
    lastUsed = now.used;
    if (h.busy() || !quiet || now.total - base < o.slackBytes) return;
    h.gc();
    const after = h.heap();
    base = after.total;
    lastUsed = after.used;
    onCollect?.(now.total - after.total);
  });
}
