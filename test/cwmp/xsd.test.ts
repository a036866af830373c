// The schema check of CWMP envelopes (test/cwmp/xsd.ts) really checks: an envelope of ours
// validates, and one the CWMP schema forbids is refused, in each namespace the agent speaks, without
// the xmllint tool. A lax pass (a schema that failed to load) would let the bad ones through.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { envelope, soapArray } from '../../src/cwmp/envelope.js';
import { requireShared } from '../helpers.js';
import { validateEnvelopes } from './xsd.js';

test(
  'CWMP envelopes validate against the official schemas; a malformed RPC and an unknown namespace are ' + 'refused',
  async (t) => {
    const dir = requireShared(t, 'spec', 'cwmp', 'xsd');
    if (!dir) return;
    for (const ns of ['urn:dslforum-org:cwmp-1-0', 'urn:dslforum-org:cwmp-1-2'] as const) {
      const methods = soapArray('MethodList', 'xsd:string', ['<string>Inform</string>']);
      const good = envelope(ns, '1', `<cwmp:GetRPCMethodsResponse>${methods}</cwmp:GetRPCMethodsResponse>`);
      const bad = envelope(ns, '2', '<cwmp:GetRPCMethodsResponse><Nonsense>1</Nonsense></cwmp:GetRPCMethodsResponse>');
      const ok = await validateEnvelopes(dir, [good]);
      assert.ok(ok.ok, `${ns}: ${ok.output}`);
      const refused = await validateEnvelopes(dir, [good, bad]);
      assert.ok(!refused.ok, `${ns}: the malformed envelope is refused`);
      assert.match(refused.output, /m1\.xml/, 'naming the envelope');
      assert.doesNotMatch(refused.output, /m0\.xml/, 'and only that one');
    }
    const foreign = await validateEnvelopes(dir, ['<x xmlns="urn:example"/>']);
    assert.match(foreign.output, /unknown cwmp namespace/);
  },
);
