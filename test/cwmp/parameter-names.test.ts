// GetParameterNames against a full walk of the data model as the ACS sees it (objects, tables and
// parameters, each once), for the four kinds of request: "" or a partial path, NextLevel or not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DataModel } from '../../src/dm/datamodel.js';
import { toSupportedPath } from '../../src/dm/schema.js';
import { cwmp } from '../helpers.js';
import { list, type Node, TestAcs, txt } from './acs.js';
import { MS, setup } from './harness.js';

/** Every name GetParameterNames can list, with its Writable, built from Get and GetSupportedDM. */
function fullWalk(dm: DataModel): Map<string, string> {
  const defs = new Map(dm.supported('Device.', cwmp).map((d) => [d.path, d]));
  const names = new Map<string, string>();
  for (const o of dm.get('Device.', cwmp)) {
    const def = defs.get(toSupportedPath(o.path));
    if (!def) continue; // below an object the ACS does not see
    names.set(o.path, def.multi && def.creatable ? '1' : '0');
    for (const p of Object.keys(o.params)) names.set(o.path + p, def.params.get(p)!.writable ? '1' : '0');
    for (const child of def.children.values())
      if (child.multi && defs.has(child.path)) names.set(`${o.path}${child.name}.`, child.creatable ? '1' : '0');
  }
  return names;
}

const gpn = (path: string, next: boolean) =>
  `<cwmp:GetParameterNames><ParameterPath>${path}</ParameterPath><NextLevel>${next ? 1 : 0}</NextLevel>` +
  '</cwmp:GetParameterNames>';
const infos = (m: { method: string; body: Node }): [string, string][] => {
  assert.equal(m.method, 'GetParameterNamesResponse');
  return list((m.body.ParameterList as Node).ParameterInfoStruct as Node | Node[]).map((p) => [
    txt(p.Name),
    txt(p.Writable),
  ]);
};
const once = (rows: [string, string][], what: string): Map<string, string> => {
  const m = new Map(rows);
  assert.equal(m.size, rows.length, `${what}: a name listed twice`);
  return m;
};
const sorted = (m: Map<string, string>) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

test('GetParameterNames: "" and partial paths, NextLevel or not, against a full walk of the model', async (t) => {
  const { agent, acs } = await setup(t);
  await acs.until(() => acs.sessionsEnded >= 1);
  const crUrl = acs.informs[0]!.params[`${MS}ConnectionRequestURL`]!;
  // Rows in a table, so that instances and the table itself are both in the walk.
  const adds = [1, 2].map(() =>
    acs.rpc(`<cwmp:AddObject><ObjectName>${MS}InformParameter.</ObjectName><ParameterKey/></cwmp:AddObject>`),
  );
  assert.equal(await TestAcs.connectionRequest(crUrl, 'acs', 'cr-secret'), 200);
  for (const a of adds) assert.equal((await a).method, 'AddObjectResponse');

  const walk = fullWalk(agent.dm);
  const objects = [...walk.keys()].filter((n) => n.endsWith('.'));
  for (const table of ['Device.SoftwareModules.DeploymentUnit.', `${MS}InformParameter.`])
    assert.ok(walk.has(table), `${table} is in the walk`);
  assert.equal(walk.get(`${MS}InformParameter.`), '1', 'AddObject is allowed on InformParameter');

  const all = acs.rpc(gpn('', false));
  const top = acs.rpc(gpn('', true));
  const param = acs.rpc(gpn(`${MS}URL`, false));
  const sub = objects.map((p) => ({ p, full: acs.rpc(gpn(p, false)), next: acs.rpc(gpn(p, true)) }));
  assert.equal(await TestAcs.connectionRequest(crUrl, 'acs', 'cr-secret'), 200);

  assert.deepEqual(sorted(once(infos(await all), '""')), sorted(walk), '"": every object and parameter once');
  assert.deepEqual(infos(await top), [['Device.', '0']], '"" with NextLevel: the top of the hierarchy');
  assert.deepEqual(infos(await param), [[`${MS}URL`, '1']]);
  for (const { p, full, next } of sub) {
    const below = new Map([...walk].filter(([n]) => n.startsWith(p)));
    assert.deepEqual(sorted(once(infos(await full), p)), sorted(below), `${p}: itself and all below it`);
    const children = new Map([...below].filter(([n]) => n !== p && /^[^.]+\.?$/.test(n.slice(p.length))));
    assert.deepEqual(sorted(once(infos(await next), `${p} next`)), sorted(children), `${p}: its direct children`);
  }
});
