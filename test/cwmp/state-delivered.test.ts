// What an InformResponse settles in the client's state: the events and values the Inform carried; a change
// that came in while the Inform was out stays, with "4 VALUE CHANGE" if it is active; a changed parameter
// whose object is gone leaves, so it never keeps sessions coming.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CwmpState } from '../../src/cwmp/state.js';
import { tempDir } from '../helpers.js';

const VC = { code: '4 VALUE CHANGE', key: '' };

test('delivered: a change during the session keeps VALUE CHANGE; a gone parameter leaves without one', (t) => {
  const { dir, cleanup } = tempDir('cpe-cwmp-state-');
  t.after(cleanup);
  const state = new CwmpState(dir);
  const values: Record<string, string> = { 'D.A': '2', 'D.B': 'x', 'D.P': '7' };
  const levels: Record<string, number> = { 'D.A': 2, 'D.B': 2, 'D.P': 1, 'D.Gone': 2 };
  const settle = (events: (typeof VC)[], sent: Record<string, string>) =>
    state.delivered(
      events,
      sent,
      (p) => values[p],
      (p) => levels[p] ?? 0,
    );

  // The Inform carried A=1 with VALUE CHANGE; A became 2 meanwhile and B changed: both stay, and so does the event.
  state.data.events.push(VC);
  state.data.changed.push('D.A', 'D.B');
  settle([VC], { 'D.A': '1' });
  assert.deepEqual(state.data.changed, ['D.A', 'D.B']);
  assert.deepEqual(state.data.events, [VC], 'the later changes are announced in an Inform of their own');
  assert.equal(state.data.reported['D.A'], '1');

  // Both went out: nothing stays. A passive change during the session stays without calling for a session.
  state.data.changed.push('D.P');
  settle([VC], { 'D.A': '2', 'D.B': 'x' });
  assert.deepEqual(state.data.changed, ['D.P']);
  assert.deepEqual(state.data.events, [], 'a passive change waits for the next Inform');

  // An active parameter whose object went away while the Inform was out: dropped, no event for it.
  state.data.changed.push('D.Gone');
  settle([], { 'D.P': '7' });
  assert.deepEqual(state.data.changed, []);
  assert.deepEqual(state.data.events, []);
  assert.deepEqual(new CwmpState(dir).data.changed, [], 'saved');
});
