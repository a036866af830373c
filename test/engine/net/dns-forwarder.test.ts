import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { test } from 'node:test';
import { DnsForwarder, hostResolvers } from '../../../src/engine/net/dns-forwarder.js';
import { silentLogger } from '../../../src/util/logger.js';

/** A DNS query header: id, flags (QR clear), one question; then a few bytes of question. */
const query = (id: number, size = 32) => {
  const b = Buffer.alloc(size);
  b.writeUInt16BE(id, 0);
  b.writeUInt16BE(0x0100, 2);
  b.writeUInt16BE(1, 4);
  return b;
};

async function udp(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return s;
}

const next = (s: dgram.Socket, ms = 1000) =>
  new Promise<{ msg: Buffer; port: number } | undefined>((resolve) => {
    const t = setTimeout(() => resolve(undefined), ms);
    s.once('message', (msg, from) => {
      clearTimeout(t);
      resolve({ msg, port: from.port });
    });
  });

/** A forwarder on a loopback port of its own (standing for the gateway's 53), a resolver and a unit socket. */
async function setup(t: { after(fn: () => void): void }) {
  const resolver = await udp();
  const unit = await udp();
  const fwd = new DnsForwarder(silentLogger, () => ['127.0.0.1'], resolver.address().port);
  const probe = await udp();
  const port = probe.address().port;
  probe.close();
  await fwd.start('127.0.0.1', port);
  t.after(() => {
    fwd.stop();
    resolver.close();
    unit.close();
  });
  return { resolver, unit, port };
}

test('hostResolvers: the IPv4 nameserver lines of resolv.conf, at most three', () => {
  const text =
    'search lan\nnameserver 10.0.0.1\n# nameserver 9.9.9.9\nnameserver ::1\nnameserver 127.0.0.53\n' +
    'nameserver 1.1.1.1\nnameserver 8.8.8.8\n';
  assert.deepEqual(hostResolvers(text), ['10.0.0.1', '127.0.0.53', '1.1.1.1']);
  assert.deepEqual(hostResolvers(''), []);
});

test('a unit query goes to the resolver under an id of ours and its answer comes back under the unit id', async (t) => {
  const { resolver, unit, port } = await setup(t);

  unit.send(query(0x1234), port, '127.0.0.1');
  const asked = await next(resolver);
  assert.ok(asked, 'the query reached the resolver');
  assert.equal(asked.msg.subarray(2).equals(query(0x1234).subarray(2)), true, 'the query is passed on unchanged');
  const ours = asked.msg.readUInt16BE(0);
  const answer = Buffer.from(asked.msg);
  answer.writeUInt16BE(0x8180, 2);
  resolver.send(answer, asked.port, '127.0.0.1');
  const got = await next(unit);
  assert.ok(got, 'the answer reached the unit');
  assert.equal(got.msg.readUInt16BE(0), 0x1234);
  assert.equal(got.msg.readUInt16BE(2), 0x8180);

  // The same answer again (a replay), and one under an id nobody asked for: dropped.
  resolver.send(answer, asked.port, '127.0.0.1');
  const forged = Buffer.from(answer);
  forged.writeUInt16BE((ours + 1) & 0xffff, 0);
  resolver.send(forged, asked.port, '127.0.0.1');
  assert.equal(await next(unit, 300), undefined, 'a replayed or unasked-for answer reached the unit');
});

test('what is not a query is dropped: answers sent to it, short and oversized messages', async (t) => {
  const { resolver, unit, port } = await setup(t);
  const answer = query(1);
  answer.writeUInt16BE(0x8180, 2);
  unit.send(answer, port, '127.0.0.1');
  unit.send(Buffer.alloc(5), port, '127.0.0.1');
  unit.send(query(2, 5000), port, '127.0.0.1');
  assert.equal(await next(resolver, 300), undefined, 'something that is not a query went to the resolver');
});

test('at most 32 queries of one unit and 256 in all wait for the resolver at once', async (t) => {
  const { resolver, port } = await setup(t);
  let seen = 0;
  resolver.on('message', () => seen++);
  // Units by their addresses: 127.0.0.2 .. 127.0.0.10 on loopback.
  const units: dgram.Socket[] = [];
  for (let i = 2; i <= 10; i++) {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, `127.0.0.${i}`, () => r()));
    units.push(s);
  }
  t.after(() => {
    for (const u of units) u.close();
  });
  for (let i = 0; i < 40; i++) units[0]!.send(query(i), port, '127.0.0.1');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(seen, 32, 'one unit alone');
  // One unit at a time, so that the kernel's socket buffer drops none of the datagrams.
  for (const u of units.slice(1)) {
    for (let i = 0; i < 40; i++) u.send(query(i), port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 30));
  }
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(seen, 256, 'all of them');
});
