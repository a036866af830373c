// CWMP figures against the test ACS over HTTP on loopback, the agent as its own process (`cpe-agent
// run` with CWMP on): GetParameterValues of Device. with 10,000 parameters (ms from the ACS's request
// written to the CPE's answer arriving: the agent's whole turn, parse -> read -> write, plus loopback)
// and a session of 200 RPCs (RPCs/s).
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { list, type Message, type Node, TestAcs, txt } from '../test/cwmp/acs.js';
import { MS, writeDefaults } from '../test/cwmp/harness.js';
import { spawnAgent } from '../test/helpers.js';
import type { Figure } from './figures.js';

const ROWS = 2475; // InformParameter rows of 4 parameters: with the rest of Device., ~10,000 parameters
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const gpv = (path: string) =>
  `<cwmp:GetParameterValues><ParameterNames ` +
  `soapenc:arrayType="xsd:string[1]"><string>${path}</string></ParameterNames></cwmp:GetParameterValues>`;
const spv = (v: number) =>
  `<cwmp:SetParameterValues><ParameterList ` +
  `soapenc:arrayType="cwmp:ParameterValueStruct[1]"><ParameterValueStruct><Name>${MS}PeriodicInformInterval</Name>` +
  `<Value xsi:type="xsd:unsignedInt">${v}</Value></ParameterValueStruct></ParameterList><ParameterKey>b` +
  `${v}</ParameterKey></cwmp:SetParameterValues>`;
const gpn =
  `<cwmp:GetParameterNames><ParameterPath>${MS}</ParameterPath><NextLevel>1</NextLevel>` + `</cwmp:GetParameterNames>`;

export async function cwmpFigures(): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cpe-bench-cwmp-'));
  const acs = new TestAcs({ username: 'cpe', password: 'acs-secret' });
  await acs.start();
  const rows: Record<string, string> = { [`${MS}PeriodicInformEnable`]: 'false' };
  for (let i = 1; i <= ROWS; i++) {
    rows[`${MS}InformParameter.${i}.ParameterName`] = 'Device.DeviceInfo.UpTime';
    rows[`${MS}InformParameter.${i}.Enable`] = 'false';
  }
  writeDefaults(dir, acs, rows);
  let agent: ChildProcess | undefined;
  try {
    agent = spawnAgent({
      stateDir: join(dir, 'state'),
      defaultsFile: join(dir, 'defaults.json'),
      logLevel: 'warn',
      crPort0: true,
    });
    await acs.until(() => acs.sessionsEnded >= 1, 60_000);
    const crUrl = acs.informs[0]!.params[`${MS}ConnectionRequestURL`]!;
    /** One session running the given RPCs; resolves with their answers and the session's wall time. */
    const session = async (bodies: string[]): Promise<{ answers: Message[]; ms: number }> => {
      const ended = acs.sessionsEnded;
      const pending = bodies.map((b) => acs.rpc(b));
      const t0 = performance.now();
      if ((await TestAcs.connectionRequest(crUrl, 'acs', 'cr-secret')) !== 200)
        throw new Error('connection request refused');
      const answers = await Promise.all(pending);
      await acs.until(() => acs.sessionsEnded > ended, 60_000);
      return { answers, ms: performance.now() - t0 };
    };
    const big = await session(Array.from({ length: 24 }, () => gpv('Device.')));
    const count = list((big.answers[0]!.body.ParameterList as Node).ParameterValueStruct as Node | Node[]).length;
    if (count < 10_000) throw new Error(`GetParameterValues Device. returned ${count} parameters, fewer than 10,000`);
    const gpvMs = median(big.answers.slice(4).map((a) => a.ms!));

    const mixed = (k: number) =>
      Array.from({ length: 200 }, (_, i) =>
        i % 4 === 0 ? spv(k * 1000 + i + 60) : i % 4 === 1 ? gpn : gpv('Device.DeviceInfo.'),
      );
    await session(mixed(0)); // warm-up
    const runs: number[] = [];
    for (let k = 1; k <= 5; k++) {
      const r = await session(mixed(k));
      if (r.answers.some((a) => a.method === 'Fault'))
        throw new Error(`an RPC failed: ${txt(r.answers.find((a) => a.method === 'Fault')!.body.faultstring)}`);
      runs.push(200 / (r.ms / 1000));
    }
    return [
      {
        name: `CWMP GetParameterValues Device. (${count} params), request -> answer`,
        value: gpvMs,
        unit: 'ms',
        target: 50,
        better: 'lower',
      },
      {
        name: 'CWMP session of 200 RPCs (GPV/GPN/SPV), median of 5',
        value: median(runs),
        unit: 'RPC/s',
        target: 500,
        better: 'higher',
      },
    ];
  } finally {
    agent?.kill('SIGTERM');
    await sleep(300);
    await acs.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
