// `cpe-agent run`: the agent itself, in the foreground, until SIGINT or SIGTERM.
import { resolve, join } from 'node:path';
import { Agent } from '../agent.js';
import { createLogger } from '../util/logger.js';
import { datamodelDir } from '../util/package-info.js';
import { type Command, CliError, parseOptions } from './command.js';

export const runCommand: Command = {
  name: 'run',
  summary: 'run the agent (use --embedded for the self-contained default)',
  help: `Usage: cpe-agent run [--state-dir DIR] [--defaults FILE] [--log-level LEVEL] [--embedded]

Runs the agent in the foreground until SIGINT or SIGTERM. Everything an operator configures is a
TR-181 parameter; these options only say where things live.

Options:
  --state-dir DIR     persistent state (data model, DU store, pending events); default /var/lib/cpe-agent,
                      or ./.state with --embedded
  --defaults FILE     JSON object of parameter path -> value, applied at first start and on FactoryReset()
  --log-level LEVEL   trace, debug, info, warn, error or silent (default info; env CPE_LOG_LEVEL)
  --embedded          self-contained default: embedded defaults, state in ./.state
  -h, --help          this help`,
  async run(argv) {
    const { values } = parseOptions(argv, {
      'state-dir': { type: 'string' },
      defaults: { type: 'string' },
      'log-level': { type: 'string' },
      embedded: { type: 'boolean', default: false },
    });
    const level = values['log-level'] ?? process.env.CPE_LOG_LEVEL ?? 'info';
    if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(level)) throw new CliError(`unknown log level '${level}'`);
    const stateDir = resolve(values['state-dir'] ?? (values.embedded ? '.state' : '/var/lib/cpe-agent'));
    const defaultsFile = values.defaults ?? (values.embedded ? join(datamodelDir, 'defaults', 'embedded.json') : undefined);
    const logger = createLogger(level);
    const agent = new Agent({ stateDir, logger, ...(defaultsFile ? { defaultsFile: resolve(defaultsFile) } : {}) });
    await agent.start();
    if (values.embedded) {
      console.log(`cpe-agent is running on the embedded default.
  state directory : ${stateDir}
  endpoint id     : ${agent.dm.value('Device.LocalAgent.EndpointID')}
  stop it with Ctrl-C; a restart keeps its state (delete ${stateDir} to start afresh).`);
    }
    await new Promise<void>((done) => {
      // The process lives until a signal, whether or not a component holds a socket open.
      const alive = setInterval(() => {}, 1 << 30);
      const stop = (sig: string) => {
        logger.info({ signal: sig }, 'stopping');
        clearInterval(alive);
        void agent.stop().then(done);
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
    return 0;
  },
};
