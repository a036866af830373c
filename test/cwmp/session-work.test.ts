// A CWMP session is work for the idle collector (util/work.ts): from its first byte to its end the
// busy signal is up, so a full collection never runs in the middle of one. An ACS that holds its
// InformResponse keeps the session open for as long as the test needs to look.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { Agent } from '../../src/agent.js';
import { silentLogger } from '../../src/util/logger.js';
import { working } from '../../src/util/work.js';
import { tempDir, waitFor } from '../helpers.js';
import { validateCaptured } from './xsd.js';

const INFORM_RESPONSE =
  `<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" ` +
  `xmlns:cwmp="urn:dslforum-org:cwmp-1-2"><soapenv:Header><cwmp:ID soapenv:mustUnderstand="1">1</cwmp:ID>` +
  `</soapenv:Header><soapenv:Body><cwmp:InformResponse><MaxEnvelopes>1</MaxEnvelopes></cwmp:InformResponse>` +
  `</soapenv:Body></soapenv:Envelope>`;

test('a CWMP session holds the busy signal from its Inform to its end', async (t) => {
  const { dir, cleanup } = tempDir('cpe-cwmp-work-');
  let release = () => {};
  const held = new Promise<void>((r) => {
    release = r;
  });
  let informs = 0;
  let ended = 0;
  const sent: string[] = []; // every envelope the agent posted, for the schema check
  const acs = createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    if (body.trim()) sent.push(body);
    if (body.includes('Inform>')) {
      informs++;
      await held;
      res.writeHead(200, { 'content-type': 'text/xml' }).end(INFORM_RESPONSE);
      return;
    }
    ended++;
    res.writeHead(204).end(); // the empty POST answered with nothing: the session is over
  });
  await new Promise<void>((r) => acs.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(acs.address() as { port: number }).port}/acs`;
  writeFileSync(
    join(dir, 'defaults.json'),
    JSON.stringify({ 'Device.ManagementServer.URL': url, 'Device.ManagementServer.EnableCWMP': 'true' }),
  );
  const agent = new Agent({
    stateDir: join(dir, 'state'),
    defaultsFile: join(dir, 'defaults.json'),
    logger: silentLogger,
  });
  t.after(async () => {
    release();
    await agent.stop();
    acs.closeAllConnections();
    await new Promise((r) => acs.close(r));
    cleanup();
    const v = await validateCaptured(sent);
    if (v.skipped) t.diagnostic(v.skipped);
    assert.ok(v.ok, `every envelope the agent sent validates against the CWMP schema:\n${v.output}`);
  });
  await agent.start();
  await waitFor(() => informs === 1);
  assert.equal(working(), true, 'busy while the ACS holds the InformResponse');
  release();
  await waitFor(() => ended >= 1);
  await agent.cwmpClient!.idle();
  assert.equal(working(), false, 'idle once the session ended');
});
