#!/usr/bin/env node
// cpe-agent: one binary, one subcommand per job. Every subcommand answers --help.
import { packageVersion } from '../util/package-info.js';
import { CliError, type Command } from './command.js';

// A command's module is loaded only when it runs: `run` must not carry what ctl or du need (the MQTT
// controller, execa), nor they the agent; in the bundle each is a chunk read on demand.
const COMMANDS: { name: string; summary: string; load: () => Promise<Command> }[] = [
  {
    name: 'run',
    summary: 'run the agent (use --embedded for the self-contained default)',
    load: async () => (await import('./run.js')).runCommand,
  },
  {
    name: 'ctl',
    summary: 'a USP controller for people: get, set, add, delete, operate, watch ... over MQTT',
    load: async () => (await import('./ctl.js')).ctlCommand,
  },
  {
    name: 'du',
    summary: 'build and check deployment unit packages (pack, inspect)',
    load: async () => (await import('./du.js')).duCommand,
  },
  {
    name: 'dm-import',
    summary: 'write data-model definitions from TR-181 XML (for device makers extending the model)',
    load: async () => (await import('./dm-import-command.js')).dmImportCommand,
  },
];

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
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    console.error(`cpe-agent: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  const cmd = await entry.load();
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
