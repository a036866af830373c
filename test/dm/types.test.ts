import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ParamSpec } from '../../src/dm/definition-format.js';
import type { DmError } from '../../src/dm/errors.js';
import { canonicalValue } from '../../src/dm/types.js';

const p = (x: Partial<ParamSpec>): ParamSpec => ({ name: 'X', type: 'string', ...x });
const code = (fn: () => unknown): number => {
  try {
    fn();
  } catch (e) {
    return (e as DmError).code;
  }
  return 0;
};

test('booleans take true/false/1/0 and are written as true/false', () => {
  assert.equal(canonicalValue(p({ type: 'boolean' }), '1'), 'true');
  assert.equal(canonicalValue(p({ type: 'boolean' }), 'false'), 'false');
  assert.equal(
    code(() => canonicalValue(p({ type: 'boolean' }), 'yes')),
    7011,
  );
});

test('integers are bounded by their type and ranges, and canonical', () => {
  assert.equal(canonicalValue(p({ type: 'int' }), '+0123'), '123');
  assert.equal(
    code(() => canonicalValue(p({ type: 'unsignedInt' }), '-1')),
    7012,
  );
  assert.equal(
    code(() => canonicalValue(p({ type: 'unsignedInt' }), '4294967296')),
    7012,
  );
  assert.equal(canonicalValue(p({ type: 'unsignedLong' }), '18446744073709551615'), '18446744073709551615');
  assert.equal(
    code(() => canonicalValue(p({ type: 'long' }), '9223372036854775808')),
    7012,
  );
  assert.equal(
    code(() => canonicalValue(p({ type: 'int' }), '1.5')),
    7011,
  );
  const ranged = p({ type: 'int', ranges: [{ min: -1, max: 100 }] });
  assert.equal(canonicalValue(ranged, '-1'), '-1');
  assert.equal(
    code(() => canonicalValue(ranged, '101')),
    7012,
  );
  const stepped = p({ type: 'unsignedInt', ranges: [{ min: 0, max: 100, step: 10 }] });
  assert.equal(
    code(() => canonicalValue(stepped, '15')),
    7012,
  );
  assert.equal(canonicalValue(stepped, '20'), '20');
});

test('strings obey sizes, enumerations and patterns', () => {
  assert.equal(
    code(() => canonicalValue(p({ sizes: [{ max: 3 }] }), 'abcd')),
    7012,
  );
  assert.equal(canonicalValue(p({ enum: ['Up', 'Down'] }), 'Up'), 'Up');
  const e = (() => {
    try {
      canonicalValue(p({ enum: ['Up', 'Down'] }), 'Sideways');
    } catch (x) {
      return x as DmError;
    }
  })();
  assert.equal(e?.code, 7012);
  assert.match(e!.message, /Sideways.*Up, Down/);
  const pat = p({ patterns: ['', '[0-9A-F]{6}'] });
  assert.equal(canonicalValue(pat, ''), '');
  assert.equal(canonicalValue(pat, '00A0C9'), '00A0C9');
  assert.equal(
    code(() => canonicalValue(pat, '00A0C9Z')),
    7012,
  );
});

test('lists check every item, item count and total length', () => {
  const l = p({ type: 'unsignedInt', list: { maxItems: 3, maxLength: 12 } });
  assert.equal(canonicalValue(l, ' 1, 2 ,3'), '1,2,3');
  assert.equal(canonicalValue(l, ''), '');
  assert.equal(
    code(() => canonicalValue(l, '1,2,3,4')),
    7012,
  );
  assert.equal(
    code(() => canonicalValue(l, '1,x')),
    7011,
  );
  assert.equal(
    code(() => canonicalValue(p({ list: { maxLength: 5 } }), 'abc,def')),
    7012,
  );
});

test('dateTime is validated and written in UTC', () => {
  assert.equal(canonicalValue(p({ type: 'dateTime' }), '2026-11-22T10:00:00+02:00'), '2026-11-22T08:00:00Z');
  assert.equal(canonicalValue(p({ type: 'dateTime' }), '0001-01-01T00:00:00Z'), '0001-01-01T00:00:00Z');
  assert.equal(canonicalValue(p({ type: 'dateTime' }), '2026-01-02T03:04:05.25Z'), '2026-01-02T03:04:05.25Z');
  assert.equal(
    code(() => canonicalValue(p({ type: 'dateTime' }), '2026-13-01T00:00:00Z')),
    7012,
  );
  assert.equal(
    code(() => canonicalValue(p({ type: 'dateTime' }), 'yesterday')),
    7011,
  );
});

test('base64, hexBinary and decimal', () => {
  assert.equal(canonicalValue(p({ type: 'base64' }), 'aGVsbG8='), 'aGVsbG8=');
  assert.equal(
    code(() => canonicalValue(p({ type: 'base64' }), 'a*b')),
    7011,
  );
  assert.equal(canonicalValue(p({ type: 'hexBinary' }), 'DEADbeef'), 'deadbeef');
  assert.equal(
    code(() => canonicalValue(p({ type: 'hexBinary' }), 'abc')),
    7011,
  );
  assert.equal(
    code(() => canonicalValue(p({ type: 'hexBinary', sizes: [{ max: 2 }] }), 'aabbcc')),
    7012,
  );
  assert.equal(canonicalValue(p({ type: 'decimal' }), '1.50'), '1.5');
  assert.equal(
    code(() => canonicalValue(p({ type: 'decimal' }), '1.2.3')),
    7011,
  );
});
