// SetParameterValues with several bad parameters: one fault 9003 whose SetParameterValuesFault list
// names each refused parameter with its own code (9005 unknown, 9006 wrong type, 9007 bad value, 9008
// not writable), and nothing applied, not even the good parameter beside them.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { list, type Node, TestAcs, txt } from './acs.js';
import { faultOf, MS, setup } from './harness.js';

const spv = (key: string, params: [string, string, string][]) =>
  `<cwmp:SetParameterValues><ParameterList soapenc:arrayType="cwmp:ParameterValueStruct[${params.length}]">` +
  params
    .map(
      ([n, type, v]) =>
        `<ParameterValueStruct><Name>${n}</Name><Value xsi:type="${type}">${v}</Value></ParameterValueStruct>`,
    )
    .join('') +
  `</ParameterList><ParameterKey>${key}</ParameterKey></cwmp:SetParameterValues>`;

test('SetParameterValues: a fault per bad parameter (9005 to 9008) in one response, nothing applied', async (t) => {
  const { agent, acs } = await setup(t);
  await acs.until(() => acs.sessionsEnded >= 1);
  const before = agent.dm.value(`${MS}PeriodicInformInterval`);
  const answer = acs.rpc(
    spv('bad', [
      [`${MS}PeriodicInformInterval`, 'xsd:unsignedInt', '600'],
      [`${MS}CWMPRetryMinimumWaitInterval`, 'xsd:unsignedInt', 'soon'],
      [`${MS}CWMPRetryIntervalMultiplier`, 'xsd:unsignedInt', '1'],
      ['Device.DeviceInfo.Manufacturer', 'xsd:string', 'evil'],
      ['Device.Nope.X', 'xsd:string', 'x'],
    ]),
  );
  assert.equal(await TestAcs.connectionRequest(agent.dm.value(`${MS}ConnectionRequestURL`), 'acs', 'cr-secret'), 200);
  const fault = faultOf(await answer)!;
  assert.equal(txt(fault.FaultCode), '9003');
  const perParam = Object.fromEntries(
    list(fault.SetParameterValuesFault as Node | Node[]).map((f) => [txt(f.ParameterName), txt(f.FaultCode)]),
  );
  assert.deepEqual(perParam, {
    [`${MS}CWMPRetryMinimumWaitInterval`]: '9006',
    [`${MS}CWMPRetryIntervalMultiplier`]: '9007',
    'Device.DeviceInfo.Manufacturer': '9008',
    'Device.Nope.X': '9005',
  });
  assert.equal(agent.dm.value(`${MS}PeriodicInformInterval`), before, 'all or nothing');
  assert.notEqual(agent.dm.value(`${MS}ParameterKey`), 'bad');
});
