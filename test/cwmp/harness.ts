// One agent with CWMP on against the test ACS (Digest both ways), torn down after the test with every
// envelope the CPE sent checked against the CWMP schema.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from '../../src/agent.js';
import { silentLogger } from '../../src/util/logger.js';
import { tempDir } from '../helpers.js';
import { type AcsOptions, list, type Message, type Node, TestAcs, txt } from './acs.js';

export const MS = 'Device.ManagementServer.';

/** defaults.json in dir: the ACS with its credentials, a 1 s retry wait, a DeviceId. */
export function writeDefaults(dir: string, acs: TestAcs, extra: Record<string, string> = {}): void {
  writeFileSync(
    join(dir, 'defaults.json'),
    JSON.stringify({
      [`${MS}URL`]: acs.url,
      [`${MS}Username`]: 'cpe',
      [`${MS}Password`]: 'acs-secret',
      [`${MS}EnableCWMP`]: 'true',
      [`${MS}ConnectionRequestUsername`]: 'acs',
      [`${MS}ConnectionRequestPassword`]: 'cr-secret',
      [`${MS}CWMPRetryMinimumWaitInterval`]: '1',
      [`${MS}CWMPRetryIntervalMultiplier`]: '1000',
      'Device.DeviceInfo.ManufacturerOUI': '00D0F1',
      'Device.DeviceInfo.ProductClass': 'CWMPTEST',
      'Device.DeviceInfo.SerialNumber': 'S1',
      ...extra,
    }),
  );
}

export interface SetupOptions {
  readonly firmwareCommand?: string;
  readonly acs?: AcsOptions;
  /** The agent's TLS files (a CA for the ACS, a client certificate). */
  readonly tls?: { caFile: string; certFile: string; keyFile: string };
  /** LXC EEs are containers of the host: the engine's factory reset destroys them at the end. */
  readonly destroyContainers?: boolean;
}

export async function setup(
  t: { after: (fn: () => Promise<void>) => void; diagnostic?: (message: string) => void },
  extra: Record<string, string> = {},
  opts: SetupOptions = {},
) {
  const { dir, cleanup } = tempDir('cpe-cwmp-');
  const acs = new TestAcs({ username: 'cpe', password: 'acs-secret', ...opts.acs });
  await acs.start();
  writeDefaults(dir, acs, extra);
  const agents: Agent[] = [];
  /** An agent on this state directory (a second call after stopping the first is a restart). */
  const boot = async (): Promise<Agent> => {
    const a = new Agent({
      stateDir: join(dir, 'state'),
      defaultsFile: join(dir, 'defaults.json'),
      logger: silentLogger,
      ...(opts.tls ? { tls: opts.tls } : {}),
      cwmp: {
        connectionRequest: { host: '127.0.0.1', port: 0 },
        ...(opts.firmwareCommand ? { firmwareCommand: opts.firmwareCommand } : {}),
      },
    });
    agents.push(a);
    await a.start();
    return a;
  };
  const agent = await boot();
  t.after(async () => {
    const v = await acs.validateAll();
    if (v.skipped) t.diagnostic?.(v.skipped);
    for (const a of agents) {
      await (opts.destroyContainers ? a.containerEngine?.factoryReset() : a.containerEngine?.stopAll());
      await a.stop();
    }
    await acs.stop();
    cleanup();
    assert.ok(v.ok, `every envelope the CPE sent validates against the CWMP schema:\n${v.output}`);
  });
  return { agent, acs, dir, boot };
}

export const gpv = (...names: string[]) =>
  `<cwmp:GetParameterValues><ParameterNames ` +
  `soapenc:arrayType="xsd:string[${names.length}]">` +
  `${names.map((n) => `<string>${n}</string>`).join('')}</ParameterNames></cwmp:GetParameterValues>`;
export const values = (m: { body: Node }) =>
  Object.fromEntries(
    list((m.body.ParameterList as Node).ParameterValueStruct as Node | Node[]).map((p) => [txt(p.Name), txt(p.Value)]),
  );
export const faultOf = (m: { method: string; body: Node }) =>
  m.method === 'Fault' ? ((m.body.detail as Node).Fault as Node) : undefined;

/** The OpResultStructs of a DUStateChangeComplete or AutonomousDUStateChangeComplete, in order. */
export const duResults = (m: Message) =>
  list(m.body.Results as Node | Node[]).map((r) => ({
    uuid: txt(r.UUID),
    du: txt(r.DeploymentUnitRef),
    version: txt(r.Version),
    state: txt(r.CurrentState),
    resolved: txt(r.Resolved),
    eus: txt(r.ExecutionUnitRefList),
    fault: Number(txt((r.Fault as Node).FaultCode)),
    message: txt((r.Fault as Node).FaultString),
    op: txt(r.OperationPerformed),
    start: txt(r.StartTime),
  }));
