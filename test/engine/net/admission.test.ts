// NetworkConfig admission: interfaces must be the EE's available ones, ports well formed, not
// reserved, not mapped already (by another DU; the DU an Update replaces aside), not in use on the
// host; each refusal names the argument. And the subnet's addresses and the host's ports as read.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EngineCode, EngineError } from '../../../src/engine/errors.js';
import { admitNetwork } from '../../../src/engine/net/admission.js';
import { hostPortsInUse } from '../../../src/engine/net/host-ports.js';
import { addressAt, freeOffset, gatewayOf, parseSubnet } from '../../../src/engine/net/subnet.js';
import type { DuNetwork } from '../../../src/engine/net/types.js';
import type { DURecord, EERecord } from '../../../src/engine/types.js';

const ee = { id: 'lxc-1', name: 'lxc-1', accessInterfaces: ['wan0', 'lan0'] } as EERecord;
const free = () => new Set<number>();
const pm = (external: number, more = {}) => ({
  iface: 'wan0',
  external,
  internal: 80,
  protocol: 'TCP' as const,
  ...more,
});
const installed = (duid: string, net: DuNetwork) => ({ duid, network: net }) as unknown as DURecord;

function refused(net: DuNetwork, pattern: RegExp, dus: DURecord[] = [], inUse = free) {
  assert.throws(
    () => admitNetwork(ee, net, dus, undefined, inUse),
    (e: unknown) => e instanceof EngineError && e.code === EngineCode.InvalidArguments && pattern.test(e.message),
  );
}

test('interfaces not available to the EE are refused, naming the argument', () => {
  refused({ access: ['eth9'], ports: [] }, /^NetworkConfig\.AccessInterfaces: 'eth9'/);
  refused({ access: [], ports: [pm(8080, { iface: 'eth9' })] }, /^NetworkConfig\.PortMapping\.1\.Interface/);
  assert.deepEqual(admitNetwork(ee, { access: ['wan0'], ports: [pm(8080)] }, [], undefined, free).ports, [pm(8080)]);
});

test('reserved, malformed, duplicate, mapped and busy ports are refused', () => {
  refused({ access: [], ports: [pm(80)] }, /PortMapping\.1\.ExternalPort: 80 is reserved/);
  refused({ access: [], ports: [pm(8080, { internal: 0 })] }, /PortMapping\.1\.InternalPort/);
  refused({ access: [], ports: [pm(8080), pm(8080)] }, /PortMapping\.2\.ExternalPort: TCP 8080 on wan0 is mapped/);
  const other = installed('d1', { access: [], ports: [pm(8080)] });
  refused({ access: [], ports: [pm(8080)] }, /mapped already/, [other]);
  // The same port over UDP, or on another interface, is another mapping.
  admitNetwork(ee, { access: [], ports: [pm(8080, { protocol: 'UDP' }), pm(8080, { iface: 'lan0' })] }, [other]);
  // An Update of d1 keeps its own mapping.
  admitNetwork(ee, { access: [], ports: [pm(8080)] }, [other], 'd1', free);
  refused({ access: [], ports: [pm(9000)] }, /TCP 9000 is in use on the host/, [], () => new Set([9000]));
});

test('the host ports in use: TCP listeners, any bound UDP port, IPv4 and IPv6', () => {
  const dir = mkdtempSync(join(tmpdir(), 'procnet-'));
  const head = '  sl  local_address rem_address   st\n';
  writeFileSync(
    join(dir, 'tcp'),
    `${head}   0: 00000000:1F90 00000000:0000 0A\n   1: 0100007F:0050 0100007F:D431 01\n`,
  );
  writeFileSync(join(dir, 'tcp6'), `${head}   0: 00000000000000000000000000000000:2382 0000:0000 0A\n`);
  writeFileSync(join(dir, 'udp'), `${head}   0: 00000000:0035 00000000:0000 07\n`);
  assert.deepEqual([...hostPortsInUse('TCP', dir)].sort(), [8080, 9090]);
  assert.deepEqual([...hostPortsInUse('UDP', dir)], [53]);
});

test('subnet: the gateway is the first host, units from the second, none past the last', () => {
  const s = parseSubnet('10.213.0.7/24');
  assert.equal(gatewayOf(s), '10.213.0.1');
  assert.equal(addressAt(s, freeOffset(s, new Set([2, 3]))!), '10.213.0.4');
  const tiny = parseSubnet('10.0.0.0/29');
  assert.equal(freeOffset(tiny, new Set([2, 3, 4, 5, 6])), undefined);
  assert.throws(() => parseSubnet('10.0.0.0/8'), /from \/16 to \/29/);
  assert.throws(() => parseSubnet('10.0.300.0/24'), /not an IPv4 CIDR/);
});
