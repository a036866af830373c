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

/** The controller's OnBoardingRestartTime and OnBoardingComplete, as TP-469 1.102/1.103 step 1 and 7 set them. */
async function setOnBoarding(w: NonNullable<ReturnType<typeof the>>, params: Record<string, string>): Promise<void> {
  const settings = Object.fromEntries(Object.entries(params).map(([k, value]) => [k, { value, required: true }]));
  responseOf(await set(w, false, { path: CTL, params: settings }), 'set_resp');
}

async function operateOnBoard(w: NonNullable<ReturnType<typeof the>>, key: string): Promise<void> {
  await w.ctl.post('operate', 'OPERATE', {
    command: `${CTL}SendOnBoardRequest()`,
    command_key: key,
    send_resp: false,
    input_args: {},
  });
}

const onBoardRequestsSince = (w: NonNullable<ReturnType<typeof the>>, from: number) =>
  w.ctl.notifications.slice(from).filter((n) => !!n.body.on_board_req);

// The procedure's 60 s become 1 s here: the timer is the same, and the suite stays short.
test('1.102 OnBoardRequest Notification - OnBoardingRestartTime', async (t) => {
  const w = the(t);
  if (!w) return;
  await setOnBoarding(w, { OnBoardingRestartTime: '1' });
  t.after(() => setOnBoarding(w, { OnBoardingRestartTime: '0', OnBoardingComplete: 'true' }));
  const from = w.ctl.notifications.length;
  const started = Date.now();
  await operateOnBoard(w, 'test102');
  const first = await w.ctl.waitForNotification((x) => w.ctl.notifications.indexOf(x) >= from && !!x.body.on_board_req);
  const second = await w.ctl.waitForNotification(
    (x) => w.ctl.notifications.indexOf(x) >= from && !!x.body.on_board_req && x !== first,
  );
  assert.notEqual(
    second.msg.header.msg_id,
    first.msg.header.msg_id,
    'a new OnBoardRequest, not a retry of the same message',
  );
  assert.ok(Date.now() - started >= 1000, 'the second OnBoardRequest came before OnBoardingRestartTime');
  await setOnBoarding(w, { OnBoardingComplete: 'true' });
  const after = w.ctl.notifications.length;
  await new Promise((r) => setTimeout(r, 2500));
  assert.deepEqual(onBoardRequestsSince(w, after), [], 'an OnBoardRequest after OnBoardingComplete was set true');
});

test('1.103 OnBoardRequest Notification - OnBoardingRestartTime disabled', async (t) => {
  const w = the(t);
  if (!w) return;
  await setOnBoarding(w, { OnBoardingRestartTime: '0' });
  t.after(() => setOnBoarding(w, { OnBoardingComplete: 'true' }));
  const from = w.ctl.notifications.length;
  await operateOnBoard(w, 'test103');
  await w.ctl.waitForNotification((x) => w.ctl.notifications.indexOf(x) >= from && !!x.body.on_board_req);
  await new Promise((r) => setTimeout(r, 2500));
  assert.equal(onBoardRequestsSince(w, from).length, 1, 'OnBoardRequest re-sent though OnBoardingRestartTime is 0');
});
