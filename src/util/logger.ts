// One pino root logger; components take a child with their name. Credentials never reach a log
// line: the data model logs no secured value, and these fields are redacted wherever they appear.
import { type Logger, pino } from 'pino';

export type { Logger };

const REDACT = ['password', 'Password', '*.password', '*.Password', 'credentials', '*.credentials'];

export function createLogger(
  level = process.env.CPE_LOG_LEVEL ?? 'info',
  destination?: pino.DestinationStream,
): Logger {
  const opts = { level, base: undefined, redact: { paths: REDACT, censor: '***' } };
  // Synchronous writes: the last lines before an exit or a crash are the ones that matter.
  return pino(opts, destination ?? pino.destination({ dest: 1, sync: true }));
}

/** A logger that drops everything, for library use and tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
