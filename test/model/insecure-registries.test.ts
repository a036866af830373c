// X_CPE-AGENT_InsecureRegistries reaches the engine's image pulls, refuses what is not a registry, and an
// image reference given to an EE that does not run images fails with the mismatch fault (7225).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { Agent } from '../../src/agent.js';
import { silentLogger } from '../../src/util/logger.js';
import { agent as caller, tempDir } from '../helpers.js';

const PARAM = 'X_CPE-AGENT_InsecureRegistries';

test('insecure registries: from the defaults and by Set, refused when malformed; native refuses images', async (t) => {
  const { dir, cleanup } = tempDir();
  const a = new Agent({
    stateDir: join(dir, 'state'),
    logger: silentLogger,
    settings: { [`Device.SoftwareModules.${PARAM}`]: 'reg.lan:5000' },
  });
  t.after(async () => {
    await a.stop();
    cleanup();
  });
  await a.start();
  const engine = a.containerEngine as unknown as { parts: { downloads(): { insecureRegistries?: string[] } } };
  assert.deepEqual(engine.parts.downloads().insecureRegistries, ['reg.lan:5000']);
  a.dm.set([{ objPath: 'Device.SoftwareModules.', params: [{ name: PARAM, value: 'a.lan, [fd00::1]:443' }] }], caller);
  assert.deepEqual(engine.parts.downloads().insecureRegistries, ['a.lan', '[fd00::1]:443']);
  assert.throws(
    () => a.dm.set([{ objPath: 'Device.SoftwareModules.', params: [{ name: PARAM, value: 'http://x/' }] }], caller),
    (e: { code?: number; message: string }) => /host or host:port/.test(JSON.stringify(e)) || e.code === 7012,
  );
  const [out] = await a.dm.operate(
    'Device.SoftwareModules.InstallDU()',
    { URL: 'docker://127.0.0.1:1/app:v1' },
    caller,
  );
  assert.equal(out?.kind, 'async');
  if (out?.kind !== 'async') return;
  const done = await out.done;
  assert.equal(done.ok, false);
  assert.match(JSON.stringify(done), /7225|does not run OCI images/);
});

test('an ExecEnvClass that runs OCI images has the OCIImage Capability row; the others none', async (t) => {
  const { dir, cleanup } = tempDir();
  const a = new Agent({ stateDir: join(dir, 'state'), logger: silentLogger });
  t.after(async () => {
    await a.stop();
    cleanup();
  });
  await a.start();
  const native = a.containerEngine!.backend('native');
  Object.defineProperty(native, 'execEnvClass', { value: { ...native.execEnvClass, formats: ['tar.gz', 'oci'] } });
  await (a as unknown as { sm: { sync(): Promise<void> } }).sm.sync();
  const rows = a.dm.get('Device.SoftwareModules.ExecEnvClass.', caller);
  const classes = rows.filter((r) => /ExecEnvClass\.\d+\.$/.test(r.path));
  const runsImages = new Set(['Native', ...((await a.containerEngine!.backend('oci').available()) ? ['OCI'] : [])]);
  for (const c of classes) {
    const caps = rows.filter((r) => r.path.startsWith(`${c.path}Capability.`) && /\.\d+\.$/.test(r.path));
    assert.deepEqual(
      caps.map((r) => r.params.Specification),
      runsImages.has(c.params.Name!) ? ['OCIImage'] : [],
      `the Capability rows of ExecEnvClass ${c.params.Name}`,
    );
  }
});
