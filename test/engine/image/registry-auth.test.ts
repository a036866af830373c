// WWW-Authenticate challenges and the token endpoint's answer, and a registry that would have the agent
// fetch a token in clear text from a host on the network.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { EngineCode } from '../../../src/engine/errors.js';
import { parseReference } from '../../../src/engine/image/reference.js';
import { parseChallenge, tokenOf, tokenUrl } from '../../../src/engine/image/registry-auth.js';
import { RegistryClient } from '../../../src/engine/image/registry-client.js';

test('challenges parse (quoted, escaped, token values); the token URL carries service and scope', () => {
  const c = parseChallenge(
    'Bearer realm="https://auth.example.com/token",service="reg \\"x\\"",scope=repository:a/b:pull',
  );
  assert.equal(c?.scheme, 'bearer');
  assert.deepEqual(c?.params, {
    realm: 'https://auth.example.com/token',
    service: 'reg "x"',
    scope: 'repository:a/b:pull',
  });
  assert.equal(parseChallenge('Basic realm="r"')?.scheme, 'basic');
  assert.equal(parseChallenge(undefined), undefined);
  const u = tokenUrl(c!, 'repository:ignored:pull');
  assert.equal(u.searchParams.get('service'), 'reg "x"');
  assert.equal(u.searchParams.get('scope'), 'repository:a/b:pull');
  assert.equal(
    tokenUrl({ scheme: 'bearer', params: { realm: 'https://a/t' } }, 'repository:r:pull').search,
    '?scope=repository%3Ar%3Apull',
  );
  assert.throws(() => tokenUrl({ scheme: 'bearer', params: {} }, 's'), /named no realm/);
  assert.throws(() => tokenUrl({ scheme: 'bearer', params: { realm: 'ftp://a/t' } }, 's'), /not an http/);
  assert.equal(tokenOf(Buffer.from('{"token":"abc"}')), 'abc');
  assert.equal(tokenOf(Buffer.from('{"access_token":"xyz"}')), 'xyz');
  assert.throws(() => tokenOf(Buffer.from('{"token":"a b"}')), /no usable token/);
  assert.throws(() => tokenOf(Buffer.from('nope')), /no usable token/);
});

test('a token realm in clear text on the network is refused before anything is sent there', async (t) => {
  const server = createServer((_req, res) => {
    res.writeHead(401, { 'www-authenticate': 'Bearer realm="http://auth.example.com/token",service="s"' }).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => server.close(r)));
  const port = (server.address() as { port: number }).port;
  const client = await RegistryClient.open(parseReference(`docker://127.0.0.1:${port}/app:v1`), {
    username: 'u',
    password: 'p',
  });
  t.after(() => client.close());
  await assert.rejects(
    client.get('manifests', 'v1'),
    (e: { code: string; transfer?: string; message: string }) =>
      e.code === EngineCode.ServerUnreachable && e.transfer === 'auth' && /only over https/.test(e.message),
  );
});

test("a clear-text registry's challenge naming another host's realm gets no credentials", async (t) => {
  const seen: (string | undefined)[] = [];
  const auth = createServer((req, res) => {
    seen.push(req.headers.authorization);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 'anon' }));
  });
  await new Promise<void>((r) => auth.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => auth.close(r)));
  // Another host than the registry's (host:port differs), on loopback so that plain http is allowed.
  const realm = `http://127.0.0.1:${(auth.address() as { port: number }).port}/token`;
  const registry = createServer((req, res) => {
    if (req.headers.authorization === 'Bearer anon') res.writeHead(404).end();
    else res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm}",service="s"` }).end();
  });
  await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => registry.close(r)));
  const port = (registry.address() as { port: number }).port;
  const client = await RegistryClient.open(parseReference(`docker://127.0.0.1:${port}/app:v1`), {
    username: 'u',
    password: 'p',
  });
  t.after(() => client.close());
  await assert.rejects(client.get('manifests', 'v1'));
  assert.deepEqual(seen, [undefined], 'the token was asked for without the InstallDU credentials');
});
