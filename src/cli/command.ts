// What a subcommand is, and the option parsing every subcommand shares.
import { type ParseArgsConfig, parseArgs } from 'node:util';

export interface Command {
  readonly name: string;
  readonly help: string;
  /** Returns the exit code; a long-running command resolves when it stops. */
  run(argv: string[]): Promise<number>;
}

/** A usage error: printed with the command's name, exit code 2. */
export class CliError extends Error {}

export function parseOptions<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (e) {
    throw new CliError((e as Error).message.replace(/\. To specify.*$/s, ''));
  }
}
