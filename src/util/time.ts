// TR-106 dateTime values as the agent writes them: UTC, whole seconds, and the Unknown Time.
export const UNKNOWN_TIME = '0001-01-01T00:00:00Z';

/** A moment (now by default) as a TR-106 dateTime in UTC, without fractions of a second. */
export const dateTime = (ms = Date.now()): string => `${new Date(ms).toISOString().slice(0, 19)}Z`;
