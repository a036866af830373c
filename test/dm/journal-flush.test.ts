// Which data model changes are flushed to disk before they are answered: a controller's, an ACS's and
// the agent's own, but not those of a component that mirrors records kept elsewhere (written again
// at every start). Those are in the journal at once (a kill -9 keeps them) and flushed with the next
// flushed change, or when the model closes; a deletion is flushed at once, so no instance number
// comes back after a power cut.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { agentCaller } from '../../src/dm/caller.js';
import { countFsyncs } from '../fsync-counter.js';
import { newModel, tempDir, usp } from '../helpers.js';

test("a mirror's changes are journalled without an fsync and flushed with the next one", async () => {
  const { dir, cleanup } = tempDir();
  const dm = newModel({ stateDir: dir });
  dm.mirror('mirror');
  const fsyncs = await countFsyncs();
  const journal = () => readFileSync(join(dir, 'datamodel.journal'), 'utf8');
  try {
    dm.update('Device.DeviceInfo.', { Description: 'mirrored' }, 'mirror');
    assert.equal(fsyncs.count, 0);
    assert.match(journal(), /mirrored/, 'in the journal at once: a kill -9 keeps it');
    dm.update('Device.DeviceInfo.', { Description: 'mirrored' }, 'mirror');
    dm.update('Device.DeviceInfo.', { Description: 'mine' }, 'other');
    assert.equal(fsyncs.count, 1, "the agent's own change is flushed (and the mirror's line before it)");
    dm.set([{ objPath: 'Device.ManagementServer.', params: [{ name: 'URL', value: 'http://acs.example/' }] }], usp);
    assert.equal(fsyncs.count, 2, "a controller's change is flushed before it is answered");
    fsyncs.reset();
    const row = dm.addInstance('Device.LocalAgent.Controller.', { EndpointID: 'proto::mirrored' }, 'mirror');
    assert.equal(fsyncs.count, 0);
    dm.delete([row], agentCaller('mirror'));
    assert.equal(fsyncs.count, 1, 'a deletion is flushed: the instance number it frees must stay used');
    fsyncs.reset();
    dm.update('Device.DeviceInfo.', { Description: 'again' }, 'mirror');
    dm.close();
    assert.equal(fsyncs.count, 1, 'a clean stop flushes what is left');
    fsyncs.reset();
    const reopened = newModel({ stateDir: dir });
    assert.equal(reopened.value('Device.DeviceInfo.Description'), 'again');
    assert.equal(reopened.value('Device.ManagementServer.URL'), 'http://acs.example/');
    const [next] = reopened.add('Device.LocalAgent.Controller.', [{ name: 'EndpointID', value: 'proto::b' }], usp);
    assert.notEqual(next!.path, row, 'instance numbers are not reused');
    reopened.close();
  } finally {
    fsyncs.restore();
    cleanup();
  }
});
