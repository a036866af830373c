// TraceRoute() arguments: TR-181's defaults for what the controller leaves out (TP-469 1.92), the
// Host checked before it reaches a command line, this agent's bounds; each refusal 7027 naming the argument.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DmError } from '../../../src/dm/errors.js';
import {
  MAX_DATA_BLOCK,
  MAX_TIMEOUT_MS,
  traceRouteArgs,
  traceRouteArgv,
} from '../../../src/model/ip-diagnostics/traceroute-args.js';

const refused = (input: Record<string, string>, arg: string) =>
  assert.throws(
    () => traceRouteArgs(input),
    (e: unknown) => e instanceof DmError && e.code === 7027 && e.message.includes(`argument '${arg}'`),
    `${JSON.stringify(input)} refused naming ${arg}`,
  );

test('defaults: 3 tries, 5000 ms, 38 bytes, DSCP 0, 30 hops', () => {
  assert.deepEqual(traceRouteArgs({ Host: '192.0.2.1', ProtocolVersion: 'Any' }), {
    host: '192.0.2.1',
    family: undefined,
    interfaceRef: undefined,
    tries: 3,
    timeoutMs: 5000,
    dataBlockSize: 38,
    dscp: 0,
    maxHops: 30,
  });
});

test('the controller values win over the defaults', () => {
  const a = traceRouteArgs({
    Host: 'router.example.net',
    ProtocolVersion: 'IPv6',
    NumberOfTries: '1',
    Timeout: '250',
    DataBlockSize: '100',
    DSCP: '46',
    MaxHopCount: '5',
    Interface: 'Device.IP.Interface.2',
  });
  assert.deepEqual(a, {
    host: 'router.example.net',
    family: 6,
    interfaceRef: 'Device.IP.Interface.2',
    tries: 1,
    timeoutMs: 250,
    dataBlockSize: 100,
    dscp: 46,
    maxHops: 5,
  });
});

test('Host: a host name or an address, never an option or anything a shell would read', () => {
  for (const host of ['-w1', '--help', 'a b', 'a;reboot', '$(id)', '', 'x'.repeat(254), 'bad_name.example', '.'])
    refused({ Host: host, ProtocolVersion: 'Any' }, 'Host');
  refused({ Host: '192.0.2.1', ProtocolVersion: 'IPv6' }, 'Host');
  refused({ Host: '2001:db8::1', ProtocolVersion: 'IPv4' }, 'Host');
  for (const host of ['localhost', 'a.example.', '2001:db8::1', '10.0.0.1', 'xn--bcher-kva.example'])
    assert.equal(traceRouteArgs({ Host: host, ProtocolVersion: 'Any' }).host, host);
});

test('numbers TR-181 leaves unbounded are bounded here; Interface must be an IP interface', () => {
  refused({ Host: 'h', Timeout: String(MAX_TIMEOUT_MS + 1) }, 'Timeout');
  refused({ Host: 'h', DataBlockSize: String(MAX_DATA_BLOCK + 1) }, 'DataBlockSize');
  refused({ Host: 'h', Interface: 'Device.LocalAgent.' }, 'Interface');
  assert.equal(traceRouteArgs({ Host: 'h', Timeout: String(MAX_TIMEOUT_MS) }).timeoutMs, MAX_TIMEOUT_MS);
});

test('the argument vector: one probe at a time, Timeout exact, packet size over the headers, TOS from DSCP', () => {
  const a = traceRouteArgs({ Host: 'h', DSCP: '46', Timeout: '1500' });
  assert.deepEqual(traceRouteArgv(a, '192.0.2.1', undefined), [
    '-4',
    '-n',
    '-N',
    '1',
    '-q',
    '3',
    '-w',
    '1.5,0,0',
    '-m',
    '30',
    '-t',
    '184',
    '--',
    '192.0.2.1',
    '66',
  ]);
  const v6 = traceRouteArgv(a, '2001:db8::1', 'eth0');
  assert.deepEqual(v6.slice(0, 1), ['-6']);
  assert.ok(v6.includes('--interface=eth0'));
  assert.equal(v6[v6.length - 1], '86');
});
