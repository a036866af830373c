import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DmError } from '../../src/dm/errors.js';
import { parsePath } from '../../src/dm/path.js';

const syntaxError = (p: string): DmError => {
  try {
    parsePath(p);
  } catch (e) {
    return e as DmError;
  }
  throw new Error(`${p} parsed`);
};

test('parses objects, parameters, commands and events', () => {
  assert.deepEqual(parsePath('Device.DeviceInfo.').leaf, { kind: 'object' });
  assert.deepEqual(parsePath('Device.DeviceInfo.UpTime').leaf, { kind: 'param', name: 'UpTime' });
  assert.deepEqual(parsePath('Device.Reboot()').leaf, { kind: 'command', name: 'Reboot()' });
  assert.deepEqual(parsePath('Device.Boot!').leaf, { kind: 'event', name: 'Boot!' });
  const p = parsePath('Device.MQTT.Client.12.Stats.');
  assert.deepEqual(
    p.segments.map((s) => s.t),
    ['name', 'name', 'name', 'inst', 'name'],
  );
  assert.equal(p.isSearch, false);
});

test('parses wildcards, aliases and search expressions with every operator', () => {
  assert.equal(parsePath('Device.MQTT.Client.*.Name').isSearch, true);
  assert.deepEqual(parsePath('Device.MQTT.Client.[cpe-1].').segments[3], { t: 'alias', alias: 'cpe-1' });
  for (const op of ['==', '!=', '~=', '<', '>', '<=', '>=']) {
    const p = parsePath(`Device.A.[X${op}1&&Y.Z == "a.b]%22c"].B`);
    const seg = p.segments[2]!;
    assert.equal(seg.t, 'search');
    if (seg.t === 'search') {
      assert.equal(seg.expr[0]!.op, op);
      assert.deepEqual(seg.expr[1], { rel: [{ name: 'Y' }, { name: 'Z' }], op: '==', value: 'a.b]"c' });
    }
  }
});

test('parses reference following with item numbers and wildcards', () => {
  const p = parsePath('Device.SoftwareModules.ExecutionUnit.1.ExecutionEnvRef+.Name');
  assert.deepEqual(p.segments[4], { t: 'name', name: 'ExecutionEnvRef', follow: 1 });
  assert.deepEqual(parsePath('Device.A.1.Refs#2+.Name').segments[3], { t: 'name', name: 'Refs', follow: 2 });
  assert.equal(parsePath('Device.A.1.Refs#*+.Name').isSearch, true);
  const s = parsePath('Device.A.[Ref+.Name=="x"].B');
  assert.deepEqual(s.segments[2], {
    t: 'search',
    expr: [{ rel: [{ name: 'Ref', follow: 1 }, { name: 'Name' }], op: '==', value: 'x' }],
  });
});

test('syntax errors are 7008 and name the problem', () => {
  for (const bad of [
    '',
    'Device',
    'Device..X',
    'Device.A.01.',
    'Device.A.[X==].',
    'Device.A.[X=="a].',
    'Device.A.[X==1',
    'Device.A.Reboot()x',
    'Device.A.B!.',
    '.Device.',
    'Device.A.[bad alias!].',
    'Device.A.1',
    'Device.A.*',
    'Device.A.B#0+.',
    'Device.A.[X=="a"||Y==1].',
    '1.A.',
    'Device.A.B$.',
  ]) {
    const e = syntaxError(bad);
    assert.equal(e.code, 7008, `${bad}: ${e.message}`);
    assert.match(e.message, /invalid|empty|search/);
  }
  assert.equal(syntaxError(`Device.${'A.'.repeat(3000)}`).code, 7008);
});
