import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DmError } from '../../src/dm/errors.js';
import { newModel, usp } from '../helpers.js';

// Deterministic pseudo-random source, so that a failure can be replayed.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const TOKENS = [
  'Device',
  '.',
  'LocalAgent',
  'Controller',
  'MTP',
  '1',
  '2',
  '0',
  '*',
  '[',
  ']',
  '"',
  '==',
  '!=',
  '~=',
  '<',
  '>=',
  '&&',
  'Enable',
  'EndpointID',
  'Alias',
  '+',
  '#',
  '#*',
  '()',
  '!',
  'Reboot',
  'Boot',
  'SoftwareModules',
  'DeploymentUnit',
  'x',
  ' ',
  '%22',
  '\u0000',
  'é',
  '{i}',
  '-1',
  '99999999999',
];

test('no input to the API escapes as anything but a DmError with a 7xxx code', async () => {
  const dm = newModel();
  dm.add('Device.LocalAgent.Controller.', [{ name: 'EndpointID', value: 'proto::a' }], usp);
  const rand = rng(469);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const calls = 20_000;
  for (let i = 0; i < calls; i++) {
    const path = Array.from({ length: 1 + Math.floor(rand() * 12) }, () => pick(TOKENS)).join('');
    const value = Array.from({ length: Math.floor(rand() * 4) }, () => pick(TOKENS)).join('');
    const op = i % 7;
    try {
      switch (op) {
        case 0:
          dm.get(path, usp, Math.floor(rand() * 3));
          break;
        case 1:
          dm.set([{ objPath: path, params: [{ name: pick(TOKENS), value }] }], usp, rand() < 0.5);
          break;
        case 2:
          dm.add(path, [{ name: pick(TOKENS), value }], usp, rand() < 0.5);
          break;
        case 3:
          dm.delete([path], usp, rand() < 0.5);
          break;
        case 4:
          dm.instances(path, usp, rand() < 0.5);
          break;
        case 5:
          dm.supported(path, usp, rand() < 0.5);
          break;
        default:
          await dm.operate(path, { [pick(TOKENS)]: value }, usp);
          break;
      }
    } catch (e) {
      assert.ok(
        e instanceof DmError,
        `${['get', 'set', 'add', 'delete', 'instances', 'supported', 'operate'][op]}(${JSON.stringify(path)}) ` +
          `threw ${String(e)}`,
      );
      assert.ok(e.code >= 7000 && e.code < 8000, `code ${e.code} for ${JSON.stringify(path)}`);
      assert.ok(e.message.length > 0);
    }
  }
  // The model is intact: the one controller is still there and nothing else was created by the fuzz
  // except what a valid add could make.
  assert.equal(dm.value('Device.LocalAgent.Controller.1.EndpointID'), 'proto::a');
});
