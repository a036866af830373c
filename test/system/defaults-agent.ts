// The whole agent as a device runs it, for system tests: its state in the test's directory, the operator's
// defaults file holding what the test gives; after the test its DUs, containers, mounts and links go
// (a factory reset: nothing is left behind for CI's check), then the agent stops and the directory goes.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from '../../src/agent.js';
import { silentLogger } from '../../src/util/logger.js';

export async function startAgent(
  t: { after(fn: () => Promise<void>): void },
  dir: string,
  defaults: Readonly<Record<string, string>>,
  cleanup: () => void,
): Promise<Agent> {
  writeFileSync(join(dir, 'defaults.json'), JSON.stringify(defaults));
  const agent = new Agent({
    stateDir: join(dir, 'state'),
    defaultsFile: join(dir, 'defaults.json'),
    logger: silentLogger,
  });
  await agent.start();
  t.after(async () => {
    await agent.containerEngine?.factoryReset();
    await agent.stop();
    cleanup();
  });
  return agent;
}
