import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DataModel } from '../../src/dm/datamodel.js';
import { UspEndpoint } from '../../src/usp/endpoint.js';
import { Subscriptions } from '../../src/usp/subscriptions.js';
import { silentLogger } from '../../src/util/logger.js';
import { loadSchema, sleep, usp } from '../helpers.js';

const SUB = 'Device.LocalAgent.Subscription.';

test('TimeToLive set after creation counts from CreationDate; set back to 0, the subscription stays', async (t) => {
  const dm = new DataModel({
    schema: loadSchema(),
    defaults: {
      'Device.LocalAgent.Controller.1.EndpointID': 'proto::controller-1',
      'Device.LocalAgent.Controller.1.Enable': 'true',
    },
  });
  Subscriptions.register(dm);
  dm.open();
  const subs = new Subscriptions(dm, () => true, new UspEndpoint(dm, silentLogger).access, silentLogger);
  subs.start();
  t.after(() => subs.stop());
  const make = (id: string) =>
    dm.add(
      SUB,
      [
        { name: 'ID', value: id },
        { name: 'NotifType', value: 'ValueChange' },
      ],
      usp,
    )[0]!.path;
  const set = (path: string, ttl: string) =>
    dm.set([{ objPath: path, params: [{ name: 'TimeToLive', value: ttl }] }], usp);
  const expiring = make('expiring');
  const kept = make('kept');
  set(expiring, '1');
  set(kept, '1');
  set(kept, '0');
  await sleep(1300);
  assert.equal(dm.node(expiring), undefined, 'expired 1 s after its creation');
  assert.ok(dm.node(kept), 'TimeToLive 0: no limit');
});
