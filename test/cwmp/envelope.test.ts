// SOAP envelopes from the ACS: what parses, what is refused with which fault, and random damage to a
// good envelope never escaping as anything but a CwmpFault. Digest both ways: the client's answer
// verifies on the server side, a replayed nonce count or a foreign nonce does not.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { DigestServer, digestAuthorization, parseAuthHeader } from '../../src/cwmp/digest.js';
import { arrayItems, envelope, MAX_ENVELOPE_BYTES, parseEnvelope, text$ } from '../../src/cwmp/envelope.js';
import { CwmpFault } from '../../src/cwmp/faults.js';

const NS = 'urn:dslforum-org:cwmp-1-0';
const good =
  `<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" ` +
  `xmlns:cwmp="${NS}"><soap:Header><cwmp:ID soap:mustUnderstand="1">42</cwmp:ID><cwmp:HoldRequests ` +
  `soap:mustUnderstand="1">1</cwmp:HoldRequests></soap:Header><soap:Body><cwmp:GetParameterValues><ParameterNames>` +
  `<string>Device.DeviceInfo.</string><string>Device.ManagementServer.URL</string></ParameterNames>` +
  `</cwmp:GetParameterValues></soap:Body></soap:Envelope>`;

async function faultCode(text: string): Promise<number> {
  try {
    await parseEnvelope(text);
  } catch (e) {
    assert.ok(e instanceof CwmpFault, `a CwmpFault, not ${(e as Error).name}: ${(e as Error).message}`);
    return e.code;
  }
  return 0;
}

test('a good envelope: namespace, ID, HoldRequests, method and arguments', async () => {
  const p = await parseEnvelope(good);
  assert.deepEqual([p.ns, p.id, p.holdRequests, p.method], [NS, '42', true, 'GetParameterValues']);
  assert.deepEqual(
    arrayItems(p.body, 'ParameterNames', 'string').map((x) => text$(x)),
    ['Device.DeviceInfo.', 'Device.ManagementServer.URL'],
  );
  // Our own envelopes parse back the same way (a response echoes the request's ID).
  const ours = await parseEnvelope(envelope('urn:dslforum-org:cwmp-1-2', 'abc', '<cwmp:GetRPCMethods/>'));
  assert.deepEqual(
    [ours.ns, ours.id, ours.method, ours.holdRequests],
    ['urn:dslforum-org:cwmp-1-2', 'abc', 'GetRPCMethods', false],
  );
});

test('an envelope of 64 KiB (TR-069 asks for at least 32 KiB) parses whole', async () => {
  const names = Array.from({ length: 2000 }, (_, i) => `<string>Device.IP.Interface.${i}.Name</string>`);
  const big = good.replace(
    /<ParameterNames>.*<\/ParameterNames>/,
    `<ParameterNames>${names.join('')}</ParameterNames>`,
  );
  assert.ok(Buffer.byteLength(big) >= 64 * 1024, `${Buffer.byteLength(big)} bytes`);
  const p = await parseEnvelope(big);
  const got = arrayItems(p.body, 'ParameterNames', 'string').map((x) => text$(x));
  assert.equal(got.length, 2000);
  assert.equal(got[1999], 'Device.IP.Interface.1999.Name');
});

test(
  'refused with the standard faults: DOCTYPE/entities (XXE), oversize, not XML, not SOAP, no CWMP namespace, ' +
    'two methods',
  async () => {
    assert.equal(
      await faultCode(
        good.replace(
          '<?xml version="1.0"?>',
          '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
        ),
      ),
      9003,
    );
    assert.equal(await faultCode(good.replace('Device.DeviceInfo.', 'x'.repeat(MAX_ENVELOPE_BYTES))), 9004);
    assert.equal(await faultCode('<soap:Envelope'), 9003);
    assert.equal(await faultCode('<a><b/></a>'), 9003);
    assert.equal(await faultCode(good.replace(NS, 'urn:example:other')), 9003);
    assert.equal(
      await faultCode(good.replace('</cwmp:GetParameterValues>', '</cwmp:GetParameterValues><cwmp:Reboot/>')),
      9003,
    );
    assert.equal(await faultCode(good.replace(/<soap:Body>.*<\/soap:Body>/, '')), 9003);
  },
);

test('20,000 random mutations of a good envelope: each parses or is a CwmpFault, nothing else', async () => {
  const bytes = Buffer.from(good);
  for (let i = 0; i < 20_000; i++) {
    const b = Buffer.from(bytes);
    const n = 1 + (i % 8);
    for (let k = 0; k < n; k++) {
      const at = Math.floor(Math.random() * b.length);
      const r = Math.random();
      if (r < 0.5) b[at] = Math.floor(Math.random() * 256);
      else if (r < 0.75) b[at] = '<>/"=&:'.charCodeAt(Math.floor(Math.random() * 7));
      else b.copyWithin(at, Math.floor(Math.random() * b.length));
    }
    const text =
      i % 10 === 0 ? b.subarray(0, Math.floor(Math.random() * b.length)).toString('latin1') : b.toString('latin1');
    await faultCode(text);
  }
});

test(
  'Digest: the client answer verifies once; a replayed nonce count, a foreign nonce, a wrong password or URI ' +
    'do not',
  () => {
    const server = new DigestServer('cpe-agent');
    const ch = parseAuthHeader(server.challenge());
    assert.equal(ch.scheme, 'digest');
    const auth = (nc: number, over: Partial<{ password: string; uri: string }> = {}) =>
      digestAuthorization(ch, { username: 'acs', password: 'pw', method: 'GET', uri: '/cr/abc', nc, ...over });
    const first = auth(1);
    assert.equal(server.verify(first, 'GET', '/cr/abc', 'acs', 'pw'), true);
    assert.equal(server.verify(first, 'GET', '/cr/abc', 'acs', 'pw'), false, 'replayed');
    assert.equal(server.verify(auth(2), 'GET', '/cr/abc', 'acs', 'pw'), true, 'the next count');
    assert.equal(server.verify(auth(3, { password: 'nope' }), 'GET', '/cr/abc', 'acs', 'pw'), false);
    assert.equal(server.verify(auth(4), 'GET', '/cr/other', 'acs', 'pw'), false, 'signed for another URI');
    const foreign = digestAuthorization(
      { scheme: 'digest', params: { realm: 'cpe-agent', nonce: randomBytes(16).toString('hex'), qop: 'auth' } },
      { username: 'acs', password: 'pw', method: 'GET', uri: '/cr/abc', nc: 1 },
    );
    assert.equal(server.verify(foreign, 'GET', '/cr/abc', 'acs', 'pw'), false, 'a nonce we never issued');
    assert.equal(server.verify('Basic YWNzOnB3', 'GET', '/cr/abc', 'acs', 'pw'), false);
  },
);
