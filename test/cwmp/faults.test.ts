// CWMP's fault tables: the data model's USP codes to an RPC's 9xxx, a DU operation's codes (TR-181
// 72xx too) to ChangeDUState's, and a transfer's kind before its code wherever it is known.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { asCwmpFault, cwmpFaultOf, downloadFaultOf, duFaultOf } from '../../src/cwmp/faults.js';
import { DmError } from '../../src/dm/errors.js';
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
  assert.equal(duFaultOf({ code: 7003 }), 9002);
});

test('Download faults: the transfer kind first, then the class of the failure', () => {
  assert.equal(downloadFaultOf(new DownloadError('unreachable', 'x', 'auth')), 9012);
  assert.equal(downloadFaultOf(new DownloadError('bad-request', 'x', 'protocol')), 9013);
  assert.equal(downloadFaultOf(new DownloadError('bad-request', 'x')), 9003);
  assert.equal(downloadFaultOf(new DownloadError('too-large', 'x')), 9027);
});
