// Engine operations hold the agent's busy signal (util/work.ts) for as long as they run, so the idle
// collector never runs in the middle of one.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { Engine } from '../../src/engine/engine.js';
import { silentLogger } from '../../src/util/logger.js';
import { working } from '../../src/util/work.js';
import { tempDir } from '../helpers.js';

test('an install is work from its request to its result; a refused EE change too', async (t) => {
  const { dir, cleanup } = tempDir('cpe-busy-');
  let answer!: () => void;
  const asked = new Promise<void>((r) => {
    answer = r;
  });
  let respond!: () => void;
  const server = createServer((_req, res) => {
    respond = () => {
      res.statusCode = 404;
      res.end();
    };
    answer();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const engine = new Engine({ stateDir: dir, logger: silentLogger });
  t.after(async () => {
    await engine.detach();
    server.close();
    cleanup();
  });
  await engine.start();
  assert.equal(working(), false, 'idle once started');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/app.tgz`;
  const install = engine.install({ url, ee: 'native', requestTag: 'busy' });
  await asked;
  assert.equal(working(), true, 'busy while the package downloads');
  respond();
  const r = await install;
  assert.ok(r.fault, 'the download failed');
  assert.equal(working(), false, 'idle once the result is in');
  const refused = engine.removeEE('native', false);
  assert.equal(working(), true);
  await refused.catch(() => undefined);
  assert.equal(working(), false);
});
