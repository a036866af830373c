// The agent's explicit busy/idle signal: whatever serves a request, runs an operation or does a
// timer's work holds a ticket for its duration. Background housekeeping (the idle collector) runs
// only when no ticket is held, never in the middle of work.
let held = 0;

/** Counts `fn` as work for as long as it runs (sync or async). */
export async function asWork<T>(fn: () => Promise<T> | T): Promise<T> {
  held++;
  try {
    return await fn();
  } finally {
    held--;
  }
}

/** True while any work is in progress. */
export function working(): boolean {
  return held > 0;
}
