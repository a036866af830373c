// TP-469 1.101: SendOnBoardRequest() sends an OnBoardRequest and starts onboarding again
// (OnBoardingComplete false), against one agent over a real mosquitto. The test sets
// OnBoardingComplete true first, so that the false it reads is the agent's doing.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { responseOf } from '../fixtures/usp-answer.js';
import { CTL, conformanceWorld, get, resolved, set } from './world.js';

const the = conformanceWorld();

test('1.101 OnBoardRequest Notification - OnBoardingComplete set to false', async (t) => {
  const w = the(t);
  if (!w) return;
  const complete = async (value: string) =>
    responseOf(
      await set(w, false, { path: CTL, params: { OnBoardingComplete: { value, required: true } } }),
      'set_resp',
    );
  await complete('true');
  const from = w.ctl.notifications.length;
  await w.ctl.post('operate', 'OPERATE', {
    command: `${CTL}SendOnBoardRequest()`,
    command_key: 'test101',
    send_resp: false,
    input_args: {},
  });
  const n = await w.ctl.waitForNotification((x) => w.ctl.notifications.indexOf(x) >= from && !!x.body.on_board_req);
  assert.equal(n.subscriptionId, '');
  assert.equal(resolved(await get(w, [`${CTL}OnBoardingComplete`]))[CTL]?.OnBoardingComplete, 'false');
  await complete('true');
});
