// The agent's nftables ruleset as text: its tables always dropped and made again in the same
// transaction (so applying it twice leaves one copy), egress only by each unit's access interfaces,
// DNAT and masquerade per mapping and interface, EEs isolated on the bridge; and nothing but the
// drop when no unit is networked.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { dropText, rulesetText, tablesOf } from '../../../src/engine/net/ruleset.js';
import type { UnitLink } from '../../../src/engine/net/types.js';
import { requireRoot, requireTool } from '../../helpers.js';

const net = { bridge: 'cpebr0', subnet: '10.213.0.0/24' };
const unit = (n: number, ee: string, more: Partial<UnitLink> = {}): UnitLink => ({
  euid: `eu${n}`,
  ee,
  address: `10.213.0.${n}`,
  hostVeth: `cpebr0v${n}`,
  netns: `cpebr0-eu${n}`,
  access: ['wan0'],
  ports: [],
  ...more,
});

test('the default bridge owns the cpe_agent tables; another bridge has tables named after it', () => {
  assert.deepEqual(tablesOf('cpebr0'), {
    filter: 'inet cpe_agent',
    nat: 'ip cpe_agent_nat',
    bridge: 'bridge cpe_agent',
  });
  assert.equal(tablesOf('t123').filter, 'inet cpe_agent_t123');
});

test('every table is declared and deleted before it is made: applying twice leaves one copy', () => {
  const text = rulesetText(net, [unit(2, 'lxc-1')]);
  for (const t of Object.values(tablesOf('cpebr0'))) {
    const declare = text.indexOf(`table ${t} {}\ndelete table ${t}\n`);
    const make = text.indexOf(`table ${t} {\n`);
    assert.ok(declare >= 0, `${t} is dropped`);
    assert.ok(make > declare, `${t} is made after it is dropped`);
    assert.equal(text.split(`table ${t} {\n`).length, 2, `${t} is made once`);
  }
});

test('no networked unit: only the drop of the tables', () => {
  assert.equal(rulesetText(net, []), dropText('cpebr0'));
  assert.doesNotMatch(dropText('cpebr0'), /chain/);
});

test("a unit leaves only by its access interfaces and is masqueraded there; one without any can't leave", () => {
  const text = rulesetText(net, [unit(2, 'a', { access: ['wan0', 'lan1'] }), unit(3, 'a', { access: [] })]);
  assert.match(text, /ip saddr 10\.213\.0\.2 oifname \{ "wan0", "lan1" \} accept/);
  assert.match(text, /ip saddr 10\.213\.0\.2 oifname \{ "wan0", "lan1" \} masquerade/);
  assert.doesNotMatch(text, /10\.213\.0\.3/);
  const fromUnits = /chain from_units \{\n([\s\S]*?)\n {2}\}/.exec(text)![1]!;
  assert.match(fromUnits, /ct state established,related accept[\s\S]*drop\s*$/);
  assert.match(text, /iifname "cpebr0" drop/, 'units reach no service of the host');
  // But the agent's DNS forwarder on the gateway, and only a unit that has a way out (no channel through names).
  assert.match(
    text,
    /iifname "cpebr0" ip saddr \{ 10\.213\.0\.2 \} ip daddr 10\.213\.0\.1 meta l4proto \{ tcp, udp \} th dport 53 /,
  );
  assert.ok(
    text.indexOf('th dport 53 accept') < text.indexOf('iifname "cpebr0" drop'),
    'DNS is let in before the drop',
  );
});

test('a port mapping: DNAT on its interface to the unit, and only that flow forwarded in', () => {
  const ports = [
    { iface: 'wan0', external: 8080, internal: 80, protocol: 'TCP' as const },
    { iface: 'wan0', external: 5353, internal: 53, protocol: 'UDP' as const },
  ];
  const text = rulesetText(net, [unit(2, 'a', { ports })]);
  // Only traffic addressed to the device itself: a flow routed through it to another host keeps its way.
  assert.match(text, /iifname "wan0" fib daddr type local tcp dport 8080 dnat to 10\.213\.0\.2:80/);
  assert.match(text, /iifname "wan0" fib daddr type local udp dport 5353 dnat to 10\.213\.0\.2:53/);
  assert.match(text, /iifname "wan0" ip daddr 10\.213\.0\.2 tcp dport 80 ct status dnat accept/);
  assert.match(text, /type nat hook prerouting priority dstnat/);
});

test("units of one EE reach each other on the bridge, another EE's units don't", () => {
  const text = rulesetText(net, [unit(2, 'a'), unit(3, 'a'), unit(4, 'b')]);
  const chain = /table bridge cpe_agent \{\n[\s\S]*?chain forward \{\n([\s\S]*?)\n {2}\}/.exec(text)![1]!;
  assert.match(chain, /iifname \{ "cpebr0v2", "cpebr0v3" \} oifname \{ "cpebr0v2", "cpebr0v3" \} accept/);
  assert.match(chain, /iifname \{ "cpebr0v4" \} oifname \{ "cpebr0v4" \} accept/);
  assert.match(chain, /iifname \{ "cpebr0v2", "cpebr0v3", "cpebr0v4" \} drop\s*$/);
  // Bridged traffic passed to the IP hooks (br_netfilter) is the bridge table's to judge.
  assert.match(text, /chain forward \{\n.*\n {4}iifname "cpebr0" oifname "cpebr0" accept\n {4}iifname "cpebr0" jump/);
});

test('nft accepts the ruleset (checked, not applied)', (t) => {
  if (!requireRoot(t, 'nft -c needs CAP_NET_ADMIN') || !requireTool(t, 'nft')) return;
  const dir = mkdtempSync(join(tmpdir(), 'ruleset-'));
  try {
    const ports = [{ iface: 'wan0', external: 8080, internal: 80, protocol: 'TCP' as const }];
    writeFileSync(join(dir, 'r.nft'), rulesetText(net, [unit(2, 'a', { ports }), unit(3, 'b', { access: [] })]));
    execFileSync('nft', ['-c', '-f', join(dir, 'r.nft')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
