// What the footprint benchmark starts the agent in: the shipped bundle, run the way docs/cpe-agent.service
// runs it (its node options and environment, read from the file), against a real mosquitto and a test ACS
// of its own, with USP and CWMP both on; DU packages whose services sleep with a mark the benchmark can
// find them by at the end.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UspController } from '../src/usp/controller-client.js';
import { mqttDeploymentDefaults } from '../src/usp/mqtt/deployment.js';
import { TestAcs } from '../test/cwmp/acs.js';
import { manifest, tarGz } from '../test/engine/tar-builder.js';
import { responseOf } from '../test/fixtures/usp-answer.js';
import { repoRoot } from '../test/helpers.js';
import { sleep } from './processes.js';

const MS = 'Device.ManagementServer.';
/** Every service of the benchmark sleeps with this argument. */
export const MARK = '7391517';
export const BUNDLE = join(repoRoot, 'dist', 'bundle', 'main.js');
export const SERVICE_FILE = join(repoRoot, 'docs', 'cpe-agent.service');

/** How to run the agent: node options, environment, the entry script. */
export interface Runtime {
  readonly name: string;
  readonly nodeArgs: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly entry: string;
}

/** The node options and environment of the service file (ExecStart up to the script, Environment=). */
export function serviceRuntime(file = SERVICE_FILE): Runtime {
  const text = readFileSync(file, 'utf8').replace(/\\\n\s*/g, ' ');
  const exec = /^ExecStart=(.*)$/m.exec(text)?.[1]?.trim().split(/\s+/) ?? [];
  const nodeArgs = exec.slice(
    1,
    exec.findIndex((a, i) => i > 0 && !a.startsWith('-')),
  );
  const env = Object.fromEntries(
    [...text.matchAll(/^Environment=(\S+?)=(\S*)$/gm)].map((m) => [m[1]!, m[2]!] as [string, string]),
  );
  return { name: 'service file', nodeArgs, env, entry: BUNDLE };
}

/** The bundle, built afresh so that the figures are of the sources measured. */
export function buildBundle(): void {
  execFileSync(process.execPath, [join(repoRoot, '.ci', 'bundle.mjs')], { stdio: 'ignore' });
}

/** One agent with its own state, ACS, topics and endpoint, on a shared broker. */
export class AgentWorld {
  readonly acs = new TestAcs({ username: 'cpe', password: 'acs-secret' });
  readonly ctl: UspController;
  readonly agentId: string;
  proc: ChildProcess | undefined;
  private readonly pkgs: string[] = [];

  constructor(
    readonly dir: string,
    readonly port: number,
    readonly tag: string,
  ) {
    this.agentId = `os::00D0F1-Foot-${tag}`;
    this.ctl = new UspController({
      url: `mqtt://127.0.0.1:${port}`,
      version: '5.0',
      endpointId: `proto::foot-${tag}`,
      topic: this.ctlTopic,
      agentId: this.agentId,
      agentTopic: `foot/${tag}/agent`,
      timeoutMs: 30_000,
    });
  }

  get ctlTopic(): string {
    return `foot/${this.tag}/ctl`;
  }

  async open(): Promise<void> {
    await this.acs.start();
    writeFileSync(
      join(this.dir, `defaults-${this.tag}.json`),
      JSON.stringify({
        ...mqttDeploymentDefaults({
          brokerPort: this.port,
          version: '5.0',
          agentTopic: `foot/${this.tag}/agent`,
          controllerId: `proto::foot-${this.tag}`,
          controllerTopic: this.ctlTopic,
          device: { oui: '00D0F1', productClass: 'Foot', serialNumber: this.tag },
        }),
        [`${MS}URL`]: this.acs.url,
        [`${MS}Username`]: 'cpe',
        [`${MS}Password`]: 'acs-secret',
        [`${MS}EnableCWMP`]: 'true',
        [`${MS}PeriodicInformEnable`]: 'false',
        [`${MS}ConnectionRequestUsername`]: 'acs',
        [`${MS}ConnectionRequestPassword`]: 'cr-secret',
        'Device.SoftwareModules.X_CPE-AGENT_FileURLDirectory': this.dir,
      }),
    );
    await this.ctl.connect();
  }

  /** Starts the agent; returns the time of the exec. */
  spawn(rt: Runtime): number {
    const t0 = performance.now();
    this.proc = spawn(
      process.execPath,
      [
        ...rt.nodeArgs,
        rt.entry,
        'run',
        '--state-dir',
        join(this.dir, `state-${this.tag}`),
        '--defaults',
        join(this.dir, `defaults-${this.tag}.json`),
        '--log-level',
        process.env.BENCH_LOG ?? 'warn',
        '--cr-host',
        '127.0.0.1',
        '--cr-port',
        '0',
      ],
      { stdio: process.env.BENCH_VERBOSE ? 'inherit' : 'ignore', env: { ...process.env, ...rt.env } },
    );
    return t0;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null) return;
    await new Promise((r) => {
      p.once('exit', r);
      p.kill('SIGTERM');
    });
  }

  /** EUs Active, asked with a short timeout (a request published while the agent is down is lost). */
  async activeCount(): Promise<number> {
    const probe = new UspController({ ...this.ctl.opts, timeoutMs: 2000 });
    await probe.connect();
    try {
      const r = await probe.request('get', 'GET', { param_paths: ['Device.SoftwareModules.ExecutionUnit.*.Status'] });
      return responseOf(r, 'get_resp').req_path_results[0]!.resolved_path_results.filter(
        (x) => x.result_params.Status === 'Active',
      ).length;
    } finally {
      await probe.close();
    }
  }

  async ready(n: number): Promise<void> {
    for (;;) {
      try {
        if ((await this.activeCount()) >= n) return;
      } catch {
        /* not answering yet */
      }
      await sleep(100);
    }
  }

  /** Installs DUs from..to-1 (a package each, one service) and waits for their services to be Active. */
  async install(from: number, to: number): Promise<void> {
    for (let i = from; i < to; i++) {
      const file = join(this.dir, `${this.tag}-app${i}.tgz`);
      writeFileSync(
        file,
        tarGz([
          {
            name: 'manifest.json',
            data: manifest({
              name: `app${i}`,
              vendor: 'bench.example',
              services: [{ name: 'svc', command: 'bin/run.sh' }],
            }),
          },
          { name: 'bin/run.sh', data: `#!/bin/sh\nexec sleep ${MARK}\n`, mode: 0o755 },
        ]),
      );
      this.pkgs[i] = `file://${file}`;
      await this.ctl.request('operate', 'OPERATE', {
        command: 'Device.SoftwareModules.InstallDU()',
        command_key: `i${i}`,
        send_resp: true,
        input_args: { URL: this.pkgs[i]! },
      });
    }
    await this.ready(to);
  }

  /** n USP Gets, `window` of them outstanding at a time. */
  async burst(n: number, window = 16): Promise<void> {
    const paths = ['Device.DeviceInfo.', 'Device.SoftwareModules.ExecutionUnit.*.Status', 'Device.LocalAgent.'];
    let next = 0;
    const worker = async () => {
      while (next < n) {
        const i = next++;
        await this.ctl.request('get', 'GET', { param_paths: [paths[i % paths.length]!] });
      }
    };
    await Promise.all(Array.from({ length: window }, worker));
  }

  async close(): Promise<void> {
    await this.stop();
    await this.ctl.close();
    await this.acs.stop();
  }
}
