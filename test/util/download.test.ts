// util/download on its own: each way a transfer fails comes out as a DownloadError whose class the
// callers map to their codes and whose transfer kind CWMP tells apart; a good file arrives whole.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { DownloadError, download } from '../../src/util/download.js';
import { tempDir } from '../helpers.js';
import { httpServer } from '../hostile-servers.js';
import { serveFiles } from '../http-files.js';

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

test('download: the file whole, or a DownloadError with its class and transfer kind', async (t) => {
  const { dir, cleanup } = tempDir('cpe-download-');
  const files = await serveFiles({ 'ok.bin': Buffer.alloc(5000, 7), 'big.bin': Buffer.alloc(2048) });
  const refusing = await httpServer((_req, res) => res.writeHead(403).end());
  const endless = await httpServer((_req, res) => {
    res.writeHead(200); // chunked: no length announced, the limit is found while the bytes arrive
    const more = (): void => {
      if (!res.destroyed) res.write(Buffer.alloc(512), (err) => err || setTimeout(more, 5));
    };
    more();
  });
  const cutting = await httpServer((_req, res) => {
    res.writeHead(200, { 'content-length': 4096 });
    res.write(Buffer.alloc(100), () => res.destroy());
  });
  t.after(async () => {
    await files.close();
    await refusing.close();
    await endless.close();
    await cutting.close();
    cleanup();
  });
  const dest = join(dir, 'f');
  assert.equal(await download(files.url('ok.bin'), dest, { maxBytes: 10_000 }), 5000);
  assert.deepEqual(readFileSync(dest), Buffer.alloc(5000, 7));

  const failure = async (url: string, opts: Partial<Parameters<typeof download>[2]> = {}) => {
    const e = await download(url, dest, { maxBytes: 1024, ...opts }).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(e instanceof DownloadError, `${url}: ${String(e)}`);
    return [e.failure, e.transfer];
  };
  assert.deepEqual(await failure(files.url('missing')), ['unreachable', 'not-found']);
  assert.deepEqual(await failure(refusing.url('x')), ['unreachable', 'auth']);
  assert.deepEqual(await failure(`http://127.0.0.1:${await closedPort()}/x`), ['unreachable', 'unreachable']);
  assert.deepEqual(await failure(cutting.url('x'), { maxBytes: 10_000 }), ['unreachable', 'incomplete']);
  assert.deepEqual(await failure(files.url('big.bin')), ['too-large', undefined], 'announced too large');
  assert.deepEqual(await failure(endless.url('x')), ['too-large', undefined], 'found too large');
  assert.deepEqual(await failure('ftp://127.0.0.1/x'), ['bad-request', 'protocol']);
  assert.deepEqual(
    await failure('file:///etc/passwd'),
    ['bad-request', 'protocol'],
    'file: is the engine’s, not util’s',
  );
  assert.deepEqual(await failure('http://user:pw@127.0.0.1/x'), ['bad-request', undefined]);
  assert.deepEqual(await failure('http://example.invalid/x', { username: 'u', password: 'p' }), [
    'bad-request',
    undefined,
  ]);
  const stop = new AbortController();
  stop.abort();
  assert.deepEqual(await failure(files.url('ok.bin'), { maxBytes: 10_000, signal: stop.signal }), [
    'canceled',
    undefined,
  ]);
});
