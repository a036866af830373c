// Gives memory back once a burst of work is over. V8 shrinks its heap by itself only after a full
// collection, and a burst served by young-generation scavenges alone (installing a few DUs, a CWMP
// session) can leave the heap tens of MB above what it holds, for as long as the agent then
// sits idle, which is most of its life on a device. So: every few seconds, if the heap stopped growing
// but stands well above its size after the last full collection, collect once.
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface IdleGcOptions {
  /** How often the heap is looked at. */
  readonly periodMs: number;
  /** Growth since the last full collection that is worth one. */
  readonly slackBytes: number;
  /** Allocation within one period below which the agent counts as idle. */
  readonly quietBytes: number;
}

const DEFAULTS: IdleGcOptions = { periodMs: 5000, slackBytes: 8 * 2 ** 20, quietBytes: 2 ** 20 };

/** V8's own full collection; the flag only exposes it (to a new context, not to our globals). */
function fullGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Starts the watch; the returned function stops it. The timer never keeps the process alive. */
export function startIdleGc(opts: Partial<IdleGcOptions> = {}, onCollect?: (freedBytes: number) => void): () => void {
  const o = { ...DEFAULTS, ...opts };
  const gc = fullGc();
  const start = getHeapStatistics();
  let base = start.total_heap_size;
  let lastUsed = start.used_heap_size;
  const timer = setInterval(() => {
    const h = getHeapStatistics();
    const quiet = Math.abs(h.used_heap_size - lastUsed) < o.quietBytes;
    lastUsed = h.used_heap_size;
    if (!quiet || h.total_heap_size - base < o.slackBytes) return;
    gc();
    const after = getHeapStatistics();
    base = after.total_heap_size;
    lastUsed = after.used_heap_size;
    onCollect?.(h.total_heap_size - after.total_heap_size);
  }, o.periodMs);
  timer.unref();
  return () => clearInterval(timer);
}
