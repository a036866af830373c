import assert from 'node:assert/strict';
import { test } from 'node:test';
import { splitParamPath } from '../../src/dm/path.js';
import { ObjectNode, paramAt, tableAt } from '../../src/dm/tree.js';
import { loadSchema } from '../helpers.js';

test('a parameter path splits into its object path and name', () => {
  assert.deepEqual(splitParamPath('Device.LocalAgent.Controller.2.EndpointID'), [
    'Device.LocalAgent.Controller.2.',
    'EndpointID',
  ]);
  assert.deepEqual(splitParamPath('Device.Reboot()'), ['Device.', 'Reboot()']);
});

test('paramAt and tableAt find what an instantiated path names, and nothing else', () => {
  const schema = loadSchema();
  const root = new ObjectNode(schema.root, 'Device.', undefined, undefined);
  const controllers = tableAt(root, 'Device.LocalAgent.Controller.')!;
  assert.equal(controllers.path, 'Device.LocalAgent.Controller.');
  controllers.rows.set(4, new ObjectNode(controllers.def, 'Device.LocalAgent.Controller.4.', controllers.parent, 4));
  const found = paramAt(root, 'Device.LocalAgent.Controller.4.EndpointID');
  assert.equal(found?.node.path, 'Device.LocalAgent.Controller.4.');
  assert.equal(found?.p.name, 'EndpointID');
  assert.equal(paramAt(root, 'Device.LocalAgent.Controller.5.EndpointID'), undefined);
  assert.equal(paramAt(root, 'Device.LocalAgent.Controller.4.NoSuchThing'), undefined);
  assert.equal(tableAt(root, 'Device.LocalAgent.'), undefined);
  assert.equal(tableAt(root, 'Device.LocalAgent.Controller.4.MTP.')?.path, 'Device.LocalAgent.Controller.4.MTP.');
});
