// Every kind of engine failure has its USP code in the model's one table, and CWMP's 9xxx for it agrees
// with the 9xxx of that USP code; the numbers older agents journalled read back as the same kinds.
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

test('CWMP faults of a kind and of its USP code agree; legacy numbers read back as their kind', () => {
  for (const kind of ENGINE_FAULT_KINDS) {
    assert.equal(duFaultOf({ code: kind }), duFaultOf({ code: uspCodeOf(kind) }), kind);
    assert.equal(faultKindOf(uspCodeOf(kind)), kind, `${kind} journalled by an older agent`);
  }
});

test('an engine failure becomes a DmError with its USP code and message', () => {
  const e = dmErrorOf({ code: 'duplicate-du', message: 'already installed' });
  assert.ok(e instanceof DmError);
  assert.deepEqual([e.code, e.message], [7226, 'already installed']);
});
