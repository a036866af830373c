// One AbortSignal for an operation that more than one party may cancel (the requester, an agent stop),
// and the listeners it hangs on them taken off again once the operation is over, so long-lived signals
// (the engine's) do not collect one listener per download.

export interface AnyAbort {
  readonly signal: AbortSignal;
  /** Stops following the sources (call when the operation is over). */
  release(): void;
}

export function anyAbort(sources: readonly (AbortSignal | undefined)[]): AnyAbort {
  const stop = new AbortController();
  const cancel = () => stop.abort();
  for (const s of sources) {
    s?.addEventListener('abort', cancel, { once: true });
    if (s?.aborted) cancel();
  }
  return {
    signal: stop.signal,
    release: () => {
      for (const s of sources) s?.removeEventListener('abort', cancel);
    },
  };
}
