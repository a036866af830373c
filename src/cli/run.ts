// `cpe-agent run`: the agent itself, in the foreground, until SIGINT or SIGTERM.
import { networkInterfaces } from 'node:os';
import { join, resolve } from 'node:path';
import { Agent } from '../agent.js';
import type { EmbeddedBroker } from '../usp/mqtt/embedded-broker.js';
import { startIdleGc } from '../util/idle-gc.js';
import { createLogger } from '../util/logger.js';
import { datamodelDir } from '../util/package-info.js';
import { CliError, type Command, parseOptions } from './command.js';

export const runCommand: Command = {
  name: 'run',
  help: `Usage: cpe-agent run [--state-dir DIR] [--defaults FILE] [--log-level LEVEL] [--embedded [--broker-port N]]

Runs the agent in the foreground until SIGINT or SIGTERM. Everything an operator configures is a
TR-181 parameter; these options only say where things live.

Options:
  --state-dir DIR     persistent state (data model, DU store, pending events); default /var/lib/cpe-agent,
                      or ./.state with --embedded
  --defaults FILE     JSON object of parameter path -> value, applied at first start and on FactoryReset()
  --log-level LEVEL   trace, debug, info, warn, error or silent (default info; env CPE_LOG_LEVEL)
  --embedded          self-contained default: an MQTT broker on 127.0.0.1, embedded defaults (a controller
                      entry for 'cpe-agent ctl'), state in ./.state
  --broker-port N     port of the embedded broker (default 1883)
  --ca FILE, --cert FILE, --key FILE   TLS files for MQTT brokers with TransportProtocol TLS and the
                      ACS; the CA is also trusted for https package downloads, besides the system's
  --lxc-rootfs FILE   the base root file system (tar.gz) of LXC execution environments, instead of
                      LXC's busybox one
  CWMP (on when Device.ManagementServer.URL is set):
  --cr-host ADDR      where the Connection Request server listens (default 0.0.0.0)
  --cr-port N         its port (default 7547, the CWMP port; 0: any free port)
  --cr-advertise HOST the host put in ManagementServer.ConnectionRequestURL (default: this machine's
                      first non-loopback IPv4 address, or --cr-host when that is not a wildcard)
  --firmware-command FILE   a program run with the path of a downloaded firmware image (Download
                      FileType 1); without it firmware downloads fail with 9010
  -h, --help          this help`,
  async run(argv) {
    const { values } = parseOptions(argv, {
      'state-dir': { type: 'string' },
      defaults: { type: 'string' },
      'log-level': { type: 'string' },
      embedded: { type: 'boolean', default: false },
      'broker-port': { type: 'string', default: '1883' },
      ca: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      'lxc-rootfs': { type: 'string' },
      'cr-host': { type: 'string', default: '0.0.0.0' },
      'cr-port': { type: 'string', default: '7547' },
      'cr-advertise': { type: 'string' },
      'firmware-command': { type: 'string' },
    });
    const crPort = Number(values['cr-port']);
    if (!Number.isInteger(crPort) || crPort < 0 || crPort > 65535)
      throw new CliError(`--cr-port must be a port number, not '${values['cr-port']}'`);
    const crHost = values['cr-host'];
    const cwmp = {
      connectionRequest: { host: crHost, port: crPort, advertise: values['cr-advertise'] ?? advertisedHost(crHost) },
      ...(values['firmware-command'] ? { firmwareCommand: resolve(values['firmware-command']) } : {}),
    };
    const brokerPort = Number(values['broker-port']);
    if (!Number.isInteger(brokerPort) || brokerPort < 0 || brokerPort > 65535)
      throw new CliError(`--broker-port must be a port number, not '${values['broker-port']}'`);
    const level = values['log-level'] ?? process.env.CPE_LOG_LEVEL ?? 'info';
    if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(level))
      throw new CliError(`unknown log level '${level}'`);
    const stateDir = resolve(values['state-dir'] ?? (values.embedded ? '.state' : '/var/lib/cpe-agent'));
    const defaultsFile =
      values.defaults ?? (values.embedded ? join(datamodelDir, 'defaults', 'embedded.json') : undefined);
    const logger = createLogger(level);
    let broker: EmbeddedBroker | undefined;
    if (values.embedded) {
      try {
        const { startEmbeddedBroker } = await import('../usp/mqtt/embedded-broker.js');
        broker = await startEmbeddedBroker(brokerPort);
      } catch (e) {
        throw new Error(
          `the embedded MQTT broker can't listen on 127.0.0.1:${brokerPort} (${(e as Error).message}); choose ` +
            `another with --broker-port`,
        );
      }
    }
    const tls = {
      ...(values.ca ? { caFile: resolve(values.ca) } : {}),
      ...(values.cert ? { certFile: resolve(values.cert) } : {}),
      ...(values.key ? { keyFile: resolve(values.key) } : {}),
    };
    // The embedded defaults point MQTT client 1 at the embedded broker, wherever it listens.
    const settings: Record<string, string> =
      broker && !values.defaults ? { 'Device.MQTT.Client.1.BrokerPort': String(broker.port) } : {};
    const agent = new Agent({
      stateDir,
      logger,
      tls,
      settings,
      cwmp,
      ...(defaultsFile ? { defaultsFile: resolve(defaultsFile) } : {}),
      ...(values['lxc-rootfs'] ? { lxcRootfs: resolve(values['lxc-rootfs']) } : {}),
    });
    await agent.start();
    // 2 MB of growth since the last full collection is worth one once the agent is idle (8 MB by default):
    // an idle agent's heap is some 10 MB, and what a burst left above it is most of what it then costs.
    const stopIdleGc = startIdleGc({ slackBytes: 2 * 2 ** 20 }, (freed) =>
      logger.debug({ freedKiB: Math.round(freed / 1024) }, 'heap collected after a burst of work'),
    );
    if (values.embedded) {
      const port = broker ? ` --url mqtt://127.0.0.1:${broker.port}` : '';
      console.log(`cpe-agent is running on the embedded default.
  state directory : ${stateDir}
  MQTT broker     : mqtt://127.0.0.1:${broker?.port} (embedded, MQTT 3.1.1)
  endpoint id     : ${agent.dm.value('Device.LocalAgent.EndpointID')} (topic usp/agent)
  talk to it      : cpe-agent ctl${port} get Device.DeviceInfo.
                    (or: node dist/src/cli/main.js ctl${port} get Device.DeviceInfo.)
  stop it with Ctrl-C; a restart keeps its state (delete ${stateDir} to start afresh).`);
    }
    await new Promise<void>((done) => {
      // The process lives until a signal, whether or not a component holds a socket open.
      const alive = setInterval(() => {}, 1 << 30);
      const stop = (sig: string) => {
        logger.info({ signal: sig }, 'stopping');
        clearInterval(alive);
        stopIdleGc();
        void agent
          .stop()
          .then(() => broker?.close())
          .then(done);
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
    return 0;
  },
};

/** The address an ACS reaches us at: the listening one, or for a wildcard this machine's first IPv4 one. */
function advertisedHost(host: string): string {
  if (host !== '0.0.0.0' && host !== '::') return host.includes(':') ? `[${host}]` : host;
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}
