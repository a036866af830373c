// The version rule of an Update: versions ordered piece by piece; a sibling's version refused (9032), a
// downgrade refused only where the EE's policy says so (9030); the DU's own version again allowed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { admitVersion, compareVersions } from '../../src/engine/du-version.js';
import { EngineCode, EngineError } from '../../src/engine/errors.js';
import type { DURecord } from '../../src/engine/types.js';

test('compareVersions: numbers by value, text as text, a missing piece lowest, a number above text', () => {
  const ordered = ['0.9', '1.0', '1.0.1', '1.2', '1.10', '1.10-rc1', '2', '2.a', '2.b', '2.0'];
  for (let i = 0; i < ordered.length; i++)
    for (let j = 0; j < ordered.length; j++)
      assert.equal(compareVersions(ordered[i]!, ordered[j]!), Math.sign(i - j), `${ordered[i]} against ${ordered[j]}`);
  assert.equal(compareVersions('1.02', '1.2'), 0, 'the same number');
});

const du = (duid: string, version: string, uuid = 'u1', ee = 'native') =>
  ({ duid, uuid, ee, manifest: { name: 'app', version } }) as unknown as DURecord;
const refused = (f: () => void, code: string) =>
  assert.throws(f, (e: unknown) => e instanceof EngineError && e.code === code);

test('admitVersion: a twin version refused, a downgrade only against the policy, the same version allowed', () => {
  const one = du('d1', '1.0');
  const all = [one, du('d2', '2.0'), du('d3', '3.0', 'u2'), du('d4', '4.0', 'u1', 'other')];
  refused(() => admitVersion(all, one, '2.0', true), EngineCode.VersionExists);
  admitVersion(all, one, '3.0', true); // another application's version
  admitVersion(all, one, '4.0', true); // the same application in another EE
  admitVersion(all, one, '1.0', false); // the DU's own version again: a re-push
  admitVersion(all, one, '0.9', true);
  refused(() => admitVersion(all, one, '0.9', false), EngineCode.DowngradeRefused);
  admitVersion(all, one, '1.0.1', false);
});
