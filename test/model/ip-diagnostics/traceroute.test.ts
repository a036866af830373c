// TraceRoute() through the data model, with a stand-in for the system traceroute (a script that
// notes its arguments and prints what it is given): what the command runs, what becomes of its
// output and failures, and that a cancelled run ends the process. test/conformance/traceroute.test.ts
// runs the real one.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import type { DataModel } from '../../../src/dm/datamodel.js';
import type { OperationOutcome } from '../../../src/dm/operations.js';
import { registerTraceRoute } from '../../../src/model/ip-diagnostics/traceroute.js';
import { silentLogger } from '../../../src/util/logger.js';
import { newModel, tempDir, usp, waitFor } from '../../helpers.js';

const TRACEROUTE = 'Device.IP.Diagnostics.TraceRoute()';

/** A model whose traceroute is a script printing `stdout` (and `stderr`, exiting `code`), then running `andThen`. */
function world(t: TestContext, o: { stdout?: string; stderr?: string; code?: number; andThen?: string } = {}) {
  const { dir, cleanup } = tempDir('cpe-traceroute-');
  t.after(cleanup);
  const bin = join(dir, 'traceroute');
  writeFileSync(join(dir, 'out'), o.stdout ?? '');
  writeFileSync(join(dir, 'err'), o.stderr ?? '');
  writeFileSync(
    bin,
    `#!/bin/sh\necho $$ > ${dir}/pid\necho "$@" > ${dir}/argv\ncat ${dir}/out\ncat ${dir}/err >&2\n` +
      `${o.andThen ?? ''}\nexit ${o.code ?? 0}\n`,
  );
  chmodSync(bin, 0o755);
  const dm = newModel();
  registerTraceRoute(dm, silentLogger, bin);
  return {
    dm,
    dir,
    argv: () => readFileSync(join(dir, 'argv'), 'utf8').trim(),
    ran: () => existsSync(join(dir, 'argv')),
  };
}

async function traceRoute(dm: DataModel, input: Record<string, string>): Promise<OperationOutcome> {
  const [r] = await dm.operate(TRACEROUTE, input, usp, 'k');
  assert.equal(r?.kind, 'async', JSON.stringify(r));
  return (r as { done: Promise<OperationOutcome> }).done;
}

test('a run to the target: the defaults on the command line, the hops as RouteHops', async (t) => {
  const w = world(t, {
    stdout:
      'traceroute to 127.0.0.1 (127.0.0.1), 30 hops max, 66 byte packets\n' +
      ' 1  10.0.0.1  0.4 ms  0.5 ms *\n 2  127.0.0.1  2.2 ms  1.1 ms  3.9 ms\n',
  });
  const r = await traceRoute(w.dm, { Host: '127.0.0.1', ProtocolVersion: 'IPv4' });
  assert.equal(w.argv(), '-4 -n -N 1 -q 3 -w 5,0,0 -m 30 -t 0 -- 127.0.0.1 66');
  assert.ok(r.ok, JSON.stringify(r));
  assert.deepEqual(r.output, {
    Status: 'Complete',
    IPAddressUsed: '127.0.0.1',
    ResponseTime: '4',
    'RouteHops.1.Host': '10.0.0.1',
    'RouteHops.1.HostAddress': '',
    'RouteHops.1.ErrorCode': '0',
    'RouteHops.1.RTTimes': '1,1,0',
    'RouteHops.2.Host': '127.0.0.1',
    'RouteHops.2.HostAddress': '',
    'RouteHops.2.ErrorCode': '0',
    'RouteHops.2.RTTimes': '3,2,4',
  });
});

test('a bad argument fails the command with 7027 naming it, and nothing runs', async (t) => {
  const w = world(t);
  const bad: Record<string, string>[] = [
    { Host: '-w1', ProtocolVersion: 'Any' },
    { Host: '127.0.0.1', ProtocolVersion: 'Any', Timeout: '3600000' },
    { Host: '127.0.0.1', ProtocolVersion: 'Any', Interface: 'Device.IP.Interface.7' },
  ];
  for (const input of bad) {
    const r = await traceRoute(w.dm, input);
    assert.ok(!r.ok && r.code === 7027, JSON.stringify(r));
  }
  // Out of TR-181's ranges: refused by the definition before the operation starts.
  const [r] = await w.dm.operate(
    TRACEROUTE,
    { Host: '127.0.0.1', ProtocolVersion: 'Any', NumberOfTries: '4' },
    usp,
    '',
  );
  assert.equal(r?.kind === 'error' && r.error.code, 7027);
  assert.equal(w.ran(), false);
});

test('no route: Error_NoRouteToHost; no traceroute: Error_Internal', async (t) => {
  const w = world(t, { stderr: 'connect: Network is unreachable\n', code: 1 });
  const r = await traceRoute(w.dm, { Host: '127.0.0.1', ProtocolVersion: 'Any' });
  assert.deepEqual(r.ok && r.output, { Status: 'Error_NoRouteToHost', IPAddressUsed: '127.0.0.1', ResponseTime: '0' });
  const dm = newModel();
  registerTraceRoute(dm, silentLogger, '/nonexistent/traceroute');
  const missing = await traceRoute(dm, { Host: '127.0.0.1', ProtocolVersion: 'Any' });
  assert.equal(missing.ok && missing.output.Status, 'Error_Internal');
});

test('Cancel() ends the traceroute process and the command with 7023', async (t) => {
  const w = world(t, { andThen: 'exec sleep 30' });
  const [r] = await w.dm.operate(TRACEROUTE, { Host: '127.0.0.1', ProtocolVersion: 'Any' }, usp, '');
  assert.equal(r?.kind, 'async');
  const op = r as Extract<typeof r, { kind: 'async' }>;
  // The file exists before the shell has written its pid: an empty read would be pid 0, the whole group.
  const pidOf = () => (existsSync(join(w.dir, 'pid')) ? Number(readFileSync(join(w.dir, 'pid'), 'utf8')) : 0);
  await waitFor(() => pidOf() > 0, 5000);
  const pid = pidOf();
  w.dm.operations.cancel(op.operation.id);
  const outcome = await op.done;
  assert.ok(!outcome.ok && outcome.code === 7023, JSON.stringify(outcome));
  await waitFor(() => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  }, 5000);
});
