// Every kind of engine failure has its USP code in the model's one table, which CWMP's own table turns
// into the ChangeDUState faults TR-069 names; the numbers older agents journalled read back as the same kinds.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { duFaultOf } from '../../src/cwmp/faults.js';
import { DmError } from '../../src/dm/errors.js';
import { ENGINE_FAULT_KINDS, faultKindOf } from '../../src/engine/errors.js';
import { dmErrorOf, USP_CODE_OF, uspCodeOf } from '../../src/model/engine-faults.js';

test('the table covers every kind, each with a USP error code', () => {
  assert.deepEqual(Object.keys(USP_CODE_OF).sort(), [...ENGINE_FAULT_KINDS].sort());
  for (const kind of ENGINE_FAULT_KINDS) {
    const code = uspCodeOf(kind);
    assert.ok(Number.isInteger(code) && code >= 7000 && code < 8000, `${kind}: ${code}`);
  }
});

test('the SoftwareModules faults reach an ACS as their ChangeDUState codes; legacy numbers read back', () => {
  const cwmp = (kind: (typeof ENGINE_FAULT_KINDS)[number]) => duFaultOf({ code: uspCodeOf(kind) });
  assert.deepEqual(
    [
      'unknown-exec-env',
      'exec-env-mismatch',
      'duplicate-du',
      'resources-exceeded',
      'invalid-du-state',
      'downgrade-refused',
      'version-exists',
    ].map((k) => cwmp(k as (typeof ENGINE_FAULT_KINDS)[number])),
    [9023, 9025, 9026, 9027, 9029, 9030, 9032],
  );
  for (const kind of ENGINE_FAULT_KINDS) {
    assert.ok(cwmp(kind) >= 9000 && cwmp(kind) < 9100, `${kind}: ${cwmp(kind)}`);
    assert.equal(faultKindOf(uspCodeOf(kind)), kind, `${kind} journalled by an older agent`);
  }
});

test('an engine failure becomes a DmError with its USP code and message', () => {
  const e = dmErrorOf({ code: 'duplicate-du', message: 'already installed' });
  assert.ok(e instanceof DmError);
  assert.deepEqual([e.code, e.message], [7226, 'already installed']);
});
