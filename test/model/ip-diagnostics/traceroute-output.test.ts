// The system traceroute's numeric output, as TraceRoute() results. The samples are lines the
// traceroute of Debian 12 (2.1.2) printed on this project's machines, and variants it prints.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseHop, parseHops, traceResult } from '../../../src/model/ip-diagnostics/traceroute-output.js';

const HEAD = 'traceroute to 10.0.0.9 (10.0.0.9), 30 hops max, 66 byte packets\n';

test('a hop line: the address, one RTT per probe rounded up to whole ms, at least 1', () => {
  assert.deepEqual(parseHop(' 1  127.0.0.1  0.209 ms  0.005 ms  2.300 ms'), {
    n: 1,
    hop: { address: '127.0.0.1', errorCode: 0, rtTimes: [1, 1, 3], unreachable: false },
  });
});

test('probes not answered are 0 and an all-* hop has no address', () => {
  assert.deepEqual(parseHop(' 2  * * *')?.hop, { address: '', errorCode: 0, rtTimes: [0, 0, 0], unreachable: false });
  assert.deepEqual(parseHop(' 3  192.0.2.1  4.100 ms *  5.000 ms')?.hop.rtTimes, [5, 0, 5]);
});

test('the address of the last answer when probes of one hop are answered by different routers', () => {
  const h = parseHop(' 4  192.0.2.1  1.5 ms  198.51.100.7  2.5 ms *')!.hop;
  assert.equal(h.address, '198.51.100.7');
  assert.deepEqual(h.rtTimes, [2, 3, 0]);
});

test('ICMP annotations are the unreachable codes (ErrorCode) and mark the hop unreachable', () => {
  const cases: [string, number][] = [
    ['!N', 0],
    ['!H', 1],
    ['!P', 2],
    ['!F-1480', 4],
    ['!S', 5],
    ['!X', 13],
    ['!V', 14],
    ['!C', 15],
    ['!9', 9],
  ];
  for (const [mark, code] of cases) {
    const h = parseHop(` 1  fd00::2  1011.032 ms ${mark}  1011.010 ms ${mark}  1010.998 ms ${mark}`)!.hop;
    assert.equal(h.errorCode, code, mark);
    assert.equal(h.unreachable, true, mark);
    assert.deepEqual(h.rtTimes, [1012, 1012, 1011]);
  }
  // "!<2": a TTL oddity, not an unreachable.
  assert.equal(parseHop(' 1  10.0.0.1  0.1 ms !<2')!.hop.unreachable, false);
});

test('the heading and anything not a hop line are skipped; hops must come in order', () => {
  assert.equal(parseHop(HEAD), undefined);
  assert.equal(parseHop(''), undefined);
  assert.equal(parseHops(`${HEAD} 1  10.0.0.1  1 ms\n 3  10.0.0.3  1 ms\n`).length, 1);
});

test('Complete when the last hop is the target: ResponseTime is its last answer', () => {
  const out = `${HEAD} 1  10.0.0.1  0.5 ms  0.4 ms  0.3 ms\n 2  10.0.0.9  7.2 ms  6.1 ms  *\n`;
  const r = traceResult(out, '10.0.0.9', 30);
  assert.equal(r.status, 'Complete');
  assert.equal(r.hops.length, 2);
  assert.equal(r.responseTime, 7);
});

test('not reached: NoRouteToHost after an unreachable, MaxHopCountExceeded after the last hop; ResponseTime 0', () => {
  const unreachable = traceResult(`${HEAD} 1  10.0.0.1  3000 ms !H  3000 ms !H  3000 ms !H\n`, '10.0.0.9', 30);
  assert.deepEqual([unreachable.status, unreachable.responseTime], ['Error_NoRouteToHost', 0]);
  const far = traceResult(`${HEAD} 1  10.0.0.1  1 ms\n 2  * * *\n`, '10.0.0.9', 2);
  assert.deepEqual([far.status, far.responseTime, far.hops.length], ['Error_MaxHopCountExceeded', 0, 2]);
  assert.equal(traceResult(HEAD, '10.0.0.9', 30).status, 'Error_Other');
});
