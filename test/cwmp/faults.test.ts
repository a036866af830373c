// CWMP's fault tables: the data model's USP codes to an RPC's 9xxx, a DU operation's codes (TR-181
// 72xx too) to ChangeDUState's, and a transfer's kind before its code wherever it is known.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { asCwmpFault, cwmpFaultOf, downloadFaultOf, duFaultOf } from '../../src/cwmp/faults.js';
import { DmError } from '../../src/dm/errors.js';
import { USP_CODE_OF } from '../../src/model/engine-faults.js';
import { DownloadError } from '../../src/util/download.js';

test('RPC faults: USP codes through the table, CWMP codes as they are, anything else 9002', () => {
  assert.equal(cwmpFaultOf(7013), 9008);
  assert.equal(cwmpFaultOf(7016), 9005);
  assert.equal(cwmpFaultOf(9009), 9009);
  assert.equal(cwmpFaultOf(7999), 9002);
  assert.equal(asCwmpFault(new DmError(7012, 'bad value')).code, 9007);
});

test('DU operation faults: the transfer kind first, then the code', () => {
  assert.equal(duFaultOf({ code: 7033, transfer: 'not-found' }), 9016);
  assert.equal(duFaultOf({ code: 7033, transfer: 'incomplete' }), 9017);
  assert.equal(duFaultOf({ code: 7034, transfer: 'insecure' }), 9012);
  assert.equal(duFaultOf({ code: 7033 }), 9015);
  assert.equal(duFaultOf({ code: 7226 }), 9026);
  assert.equal(duFaultOf({ code: 7012 }), 9003, 'a DU operation reads 7012 as bad arguments, not 9007');
  assert.equal(duFaultOf({ code: 7003 }), 9001, 'no 9002 in a DU result: the schema has none');
  assert.equal(duFaultOf({ code: 7022 }), 9001);
  assert.equal(duFaultOf({ code: 9002 }), 9001);
  assert.equal(duFaultOf({ code: 7227 }), 9027, 'system resources exceeded');
  assert.equal(duFaultOf({ code: 7229 }), 9029, 'invalid DU state');
  assert.equal(duFaultOf({ code: 7230 }), 9029, 'a unit that is stopping: the DU is in no state to change');
  assert.equal(duFaultOf({ code: 9031 }), 9031, 'a CWMP code stays');
  assert.equal(duFaultOf({ code: 9850 }), 9850, 'a vendor code stays');
  // Whatever the engine reports lands on a code the schema allows in a DU result.
  const allowed = [9001, 9003, 9012, 9013, 9015, 9016, 9017, 9018, ...Array.from({ length: 11 }, (_, i) => 9022 + i)];
  for (const [kind, usp] of Object.entries(USP_CODE_OF))
    assert.ok(allowed.includes(duFaultOf({ code: usp })), `${kind} (${usp}) -> ${duFaultOf({ code: usp })}`);
});

test('Download faults: the transfer kind first, then the class of the failure', () => {
  assert.equal(downloadFaultOf(new DownloadError('unreachable', 'x', 'auth')), 9012);
  // TransferComplete takes no 9003, 9013 or 9027 (the schema's list): those are a download failure there.
  assert.equal(downloadFaultOf(new DownloadError('bad-request', 'x', 'protocol')), 9010);
  assert.equal(downloadFaultOf(new DownloadError('bad-request', 'x')), 9010);
  assert.equal(downloadFaultOf(new DownloadError('too-large', 'x')), 9010);
  assert.equal(downloadFaultOf(new DownloadError('truncated', 'x')), 9018);
});
