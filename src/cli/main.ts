#!/usr/bin/env node
import { packageVersion } from '../util/package-info.js';
import { CliError, type Command } from './command.js';
import { ctlCommand } from './ctl.js';
import { dmImportCommand } from './dm-import-command.js';
import { duCommand } from './du.js';
// cpe-agent: one binary, one subcommand per job. Every subcommand answers --help.
import { runCommand } from './run.js';

const COMMANDS: Command[] = [runCommand, ctlCommand, duCommand, dmImportCommand];

function usage(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `cpe-agent ${packageVersion}: TR-069 CWMP and TR-369 USP agent on one TR-181 data model`,
    '',
    'Usage: cpe-agent <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
    "Run 'cpe-agent <command> --help' for a command's options.",
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-V') {
    console.log(packageVersion);
    return 0;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    console.error(`cpe-agent: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(cmd.help);
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (e instanceof CliError) {
      console.error(`cpe-agent ${cmd.name}: ${e.message}`);
      return 2;
    }
    console.error(`cpe-agent ${cmd.name}: ${(e as Error).message}`);
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => {
  if (code !== 0 || process.exitCode === undefined) process.exitCode = code;
});
