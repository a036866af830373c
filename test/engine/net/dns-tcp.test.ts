// The units' DNS forwarder over TCP (a truncated UDP answer's retry): queries framed by their length go to
// the host's resolver over TCP and the answers come back in order, large ones whole; what is not a query,
// an oversized frame and a unit's ninth connection are cut off.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { DnsTcp, takeFrame } from '../../../src/engine/net/dns-tcp.js';
import { silentLogger } from '../../../src/util/logger.js';

const query = (id: number, size = 32) => {
  const b = Buffer.alloc(size);
  b.writeUInt16BE(id, 0);
  b.writeUInt16BE(0x0100, 2);
  return b;
};
const framed = (m: Buffer) => Buffer.concat([Buffer.from([m.length >> 8, m.length & 0xff]), m]);

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as net.AddressInfo).port;
}

/** A TCP resolver answering each query with an answer of `size` bytes under its id, and the forwarder. */
async function setup(t: { after(fn: () => void): void }, size = 3000) {
  const asked: Buffer[] = [];
  const resolver = net.createServer((s) => {
    let buf = Buffer.alloc(0);
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (let f = takeFrame(buf); f; f = takeFrame(buf)) {
        buf = Buffer.from(f.rest);
        asked.push(f.msg);
        const answer = Buffer.alloc(size, 7);
        f.msg.copy(answer, 0, 0, 2);
        answer.writeUInt16BE(0x8180, 2);
        s.write(framed(answer));
      }
    });
  });
  const resolverPort = await listen(resolver);
  const probe = net.createServer();
  const port = await listen(probe);
  probe.close();
  const fwd = new DnsTcp(silentLogger, () => ['127.0.0.1'], resolverPort);
  await fwd.start('127.0.0.1', port);
  t.after(() => {
    fwd.stop();
    resolver.close();
  });
  return { port, asked };
}

/** Connects as a unit; collects what comes back and whether the forwarder closed the connection. */
async function unit(port: number, from = '127.0.0.1') {
  const s = net.connect({ port, host: '127.0.0.1', localAddress: from });
  await new Promise<void>((r, f) => s.once('connect', () => r()).once('error', f));
  const got = { data: Buffer.alloc(0), closed: false };
  s.on('data', (d) => {
    got.data = Buffer.concat([got.data, d]);
  });
  s.on('close', () => {
    got.closed = true;
  });
  s.on('error', () => undefined);
  return { s, got };
}

const until = async (cond: () => boolean, ms = 2000) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
};

test('DNS over TCP: two queries on one connection get large answers whole, in order, under their ids', async (t) => {
  const { port, asked } = await setup(t, 3000);
  const { s, got } = await unit(port);
  t.after(() => s.destroy());
  // Both at once, the second split across writes: frames are cut from the stream, not from the reads.
  const two = Buffer.concat([framed(query(0x1111)), framed(query(0x2222, 40))]);
  s.write(two.subarray(0, 40));
  s.write(two.subarray(40));
  await until(() => got.data.length >= 2 * 3002);
  const first = takeFrame(got.data);
  assert.ok(first, 'an answer came back');
  assert.equal(first.msg.length, 3000, 'larger than a UDP answer without EDNS, whole');
  assert.equal(first.msg.readUInt16BE(0), 0x1111);
  const second = takeFrame(Buffer.from(first.rest));
  assert.ok(second);
  assert.equal(second.msg.readUInt16BE(0), 0x2222);
  assert.deepEqual(
    asked.map((q) => q.length),
    [32, 40],
    'the queries reached the resolver unchanged',
  );
  assert.equal(got.closed, false, 'the connection stays for more');
});

test('DNS over TCP: an answer, an oversized frame and a unit ninth connection are cut off', async (t) => {
  const { port, asked } = await setup(t);
  const answer = query(1);
  answer.writeUInt16BE(0x8180, 2);
  const a = await unit(port);
  a.s.write(framed(answer));
  await until(() => a.got.closed);
  assert.ok(a.got.closed, 'an answer sent as a query closes the connection');

  const b = await unit(port);
  b.s.write(Buffer.from([0x20, 0x00])); // announces 8 KiB: no query is that large
  await until(() => b.got.closed);
  assert.ok(b.got.closed, 'an oversized frame closes the connection');
  assert.equal(asked.length, 0, 'nothing went to the resolver');

  // One unit address: eight connections are kept, the ninth is closed at once; another address still gets in.
  const eight = [];
  for (let i = 0; i < 8; i++) eight.push(await unit(port, '127.0.0.2'));
  const ninth = await unit(port, '127.0.0.2');
  await until(() => ninth.got.closed);
  assert.ok(ninth.got.closed, 'the ninth connection of one unit is refused');
  assert.ok(eight.every((c) => !c.got.closed));
  const other = await unit(port, '127.0.0.3');
  other.s.write(framed(query(9)));
  await until(() => other.got.data.length > 0);
  assert.equal(takeFrame(other.got.data)?.msg.readUInt16BE(0), 9, 'another unit is served');
  for (const c of [...eight, other]) c.s.destroy();
});
