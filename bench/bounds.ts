// Figures for hostile management traffic (issue: hostile input and resource bounds).
// The agent as its own process, run as docs/cpe-agent.service runs it (node's options and environment),
// USP over a real mosquitto and CWMP to the test ACS: its peak RSS (VmHWM) under a USP Get naming Device.
// 20,000 times, a USP Get of 500 distinct search paths each naming 500 rows (a 30 MB answer), and a CWMP
// GetParameterValues naming Device. 20,000 times; each attack on an agent of its own, so that the peak is
// the attack's, beside that agent's peak before it. (Without the service file's --max-semi-space-size=1,
// V8 grows its young generation under the 30 MB answer's burst: about 20-23 MB above the peak before.)
// In process (the agent's own work, no transport): Set latency with 0, 1,000 and 10,000
// subscriptions, and an Add as the 10th and as the 10,000th subscription.
import type { ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UspController } from '../src/usp/controller-client.js';
import { mqttDeploymentDefaults } from '../src/usp/mqtt/deployment.js';
import { TestAcs } from '../test/cwmp/acs.js';
import {
  setProvisioningCode,
  subscription,
  unrelatedSubscription,
  uspInProcess,
} from '../test/fixtures/usp-in-process.js';
import { medianMs, spawnAgent } from '../test/helpers.js';
import type { Figure } from './figures.js';
import { benchBroker, sleep } from './processes.js';
import { serviceRuntime } from './start-world.js';

const AGENT = 'os::00D0F1-Bounds-1';
const MS = 'Device.ManagementServer.';
const LA = 'Device.LocalAgent.';
const ATTACK = 20_000;
const ROWS = 500;

/** The most RSS the process ever had, in MB. */
const peakMB = (pid: number) => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** rows: BootParameter rows the agent's defaults hold for it. */
interface Attack {
  readonly name: string;
  readonly rows: number;
  run(ctl: UspController, acs: TestAcs, crUrl: string): Promise<void>;
}

const ATTACKS: Attack[] = [
  {
    name: `USP Get naming Device. ${ATTACK.toLocaleString('en')} times`,
    rows: 0,
    run: async (ctl) => {
      await ctl.request('get', 'GET', { param_paths: Array(ATTACK).fill('Device.') });
    },
  },
  {
    name: `USP Get of ${ROWS} search paths over ${ROWS} rows (a 30 MB answer)`,
    rows: ROWS,
    run: async (ctl) => {
      await ctl.request('get', 'GET', {
        param_paths: Array.from(
          { length: ROWS },
          (_, i) => `${LA}Controller.1.BootParameter.[ParameterName!="x${i}"].`,
        ),
      });
    },
  },
  {
    name: `CWMP GetParameterValues naming Device. ${ATTACK.toLocaleString('en')} times`,
    rows: 0,
    run: async (_ctl, acs, crUrl) => {
      const answer = acs.rpc(
        `<cwmp:GetParameterValues><ParameterNames ` +
          `soapenc:arrayType="xsd:string[${ATTACK}]">${'<string>Device.</string>'.repeat(ATTACK)}</ParameterNames>` +
          `</cwmp:GetParameterValues>`,
      );
      if ((await TestAcs.connectionRequest(crUrl, 'acs', 'cr-secret')) !== 200)
        throw new Error('connection request refused');
      await answer;
    },
  },
];

/** The agent's peak RSS before and after one attack, on an agent of its own. */
async function peakUnder(attack: Attack, dir: string, port: number): Promise<{ before: number; after: number }> {
  const acs = new TestAcs({ username: 'cpe', password: 'acs-secret' });
  await acs.start();
  const rows: Record<string, string> = {};
  for (let i = 1; i <= attack.rows; i++)
    rows[`${LA}Controller.1.BootParameter.${i}.ParameterName`] = `Device.DeviceInfo.X_${i}`;
  writeFileSync(
    join(dir, 'defaults.json'),
    JSON.stringify({
      ...mqttDeploymentDefaults({
        brokerPort: port,
        version: '5.0',
        agentTopic: 'bounds/agent',
        controllerId: 'proto::bounds',
        controllerTopic: 'bounds/ctl',
        device: { oui: '00D0F1', productClass: 'Bounds', serialNumber: '1' },
      }),
      [`${MS}URL`]: acs.url,
      [`${MS}Username`]: 'cpe',
      [`${MS}Password`]: 'acs-secret',
      [`${MS}EnableCWMP`]: 'true',
      [`${MS}PeriodicInformEnable`]: 'false',
      [`${MS}ConnectionRequestUsername`]: 'acs',
      [`${MS}ConnectionRequestPassword`]: 'cr-secret',
      ...rows,
    }),
  );
  const stateDir = join(dir, 'state');
  rmSync(stateDir, { recursive: true, force: true });
  const ctl = new UspController({
    url: `mqtt://127.0.0.1:${port}`,
    version: '5.0',
    endpointId: 'proto::bounds',
    topic: 'bounds/ctl',
    agentId: AGENT,
    agentTopic: 'bounds/agent',
    timeoutMs: 120_000,
  });
  await ctl.connect();
  let agent: ChildProcess | undefined;
  try {
    // Run as docs/cpe-agent.service runs it (node's options and environment): its peak as a device has it.
    const runtime = serviceRuntime();
    agent = spawnAgent({
      stateDir,
      defaultsFile: join(dir, 'defaults.json'),
      logLevel: 'warn',
      crPort0: true,
      runtime,
    });
    const probe = new UspController({ ...ctl.opts, timeoutMs: 2000 });
    await probe.connect();
    for (;;) {
      try {
        await probe.request('get', 'GET', { param_paths: ['Device.DeviceInfo.'] });
        break;
      } catch {
        await sleep(50);
      }
    }
    await probe.close();
    await acs.until(() => acs.sessionsEnded >= 1, 60_000);
    await sleep(1000);
    const before = peakMB(agent.pid!);
    // An agent that fails under the attack (no answer, or gone) still has its figure, or says why not.
    await attack
      .run(ctl, acs, acs.informs[0]!.params[`${MS}ConnectionRequestURL`]!)
      .catch((e: unknown) => console.log(`${attack.name}: ${(e as Error).message}`));
    return { before, after: peakMB(agent.pid!) };
  } finally {
    agent?.kill('SIGTERM');
    await ctl.close();
    await sleep(300);
    await acs.stop();
  }
}

/** The target of a cost that must not grow with the number of subscriptions: twice the small case's, to 3 digits. */
const twice = (ms: number) => Number((2 * ms).toPrecision(3));

/** Set latency at 0, 1,000 and 10,000 subscriptions; an Add as the 10th and the 10,000th. */
async function subscriptionFigures(): Promise<Figure[]> {
  const w = uspInProcess({
    [`${LA}X_CPE-AGENT_MaxSubscriptions`]: '0',
    [`${LA}X_CPE-AGENT_MaxSubscriptionsPerController`]: '0',
  });
  let n = 0,
    v = 0;
  const add = async () => {
    const [type, ref] = unrelatedSubscription(n);
    await w.call('add', 'ADD', { create_objs: [subscription(`u${n++}`, type, ref)] });
  };
  const set = () => setProvisioningCode(w.call, `v${v++}`);
  for (let i = 0; i < 10_000; i++) await set(); // warm
  const set0 = await medianMs(set, 21, 50);
  // The Add path warm, then the table back to empty (instance numbers go on: no matter).
  while (n < 500) await add();
  w.dm.delete([`${LA}Subscription.*.`], { kind: 'agent', component: 'bench' });
  n = 0;
  while (n < 9) await add();
  const add10 = await medianMs(add, 11, 1);
  while (n < 1_000) await add();
  const set1k = await medianMs(set, 21, 50);
  while (n < 9_999) await add();
  const add10k = await medianMs(add, 11, 1);
  const set10k = await medianMs(set, 21, 50);
  w.close();
  return [
    { name: 'USP Set with 0 subscriptions (in process)', value: set0, unit: 'ms', target: 0, better: 'higher' },
    { name: 'USP Set with 1,000 subscriptions', value: set1k, unit: 'ms', target: twice(set0), better: 'lower' },
    { name: 'USP Set with 10,000 subscriptions', value: set10k, unit: 'ms', target: twice(set0), better: 'lower' },
    { name: 'USP Add of the 10th subscription', value: add10, unit: 'ms', target: 0, better: 'higher' },
    { name: 'USP Add of the 10,000th subscription', value: add10k, unit: 'ms', target: twice(add10), better: 'lower' },
  ];
}

export async function boundsFigures(): Promise<Figure[]> {
  const figures = await subscriptionFigures();
  const world = await benchBroker('bounds');
  if (!world) return figures;
  const { dir, port, broker } = world;
  try {
    for (const attack of ATTACKS) {
      const { before, after } = await peakUnder(attack, dir, port);
      figures.push(
        { name: `agent peak RSS before: ${attack.name}`, value: before, unit: 'MB', target: 0, better: 'higher' },
        {
          name: `agent peak RSS under: ${attack.name}`,
          value: after,
          unit: 'MB',
          target: Math.round(before + 20),
          better: 'lower',
        },
      );
    }
    return figures;
  } finally {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
