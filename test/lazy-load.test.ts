// What an idle agent does not use, it does not load: the HTTP client (undici) comes with the first
// download and the CWMP client's XML parser (xml2js) only with CWMP. Measured in a fresh process,
// since this test runner has loaded everything.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from './helpers.js';

test('an idle agent has not loaded undici or xml2js; the first HTTP download loads undici', () => {
  const out = execFileSync(process.execPath, [join(repoRoot, 'dist/test/fixtures/idle-agent.js')], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  const steps = out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { step: string; loaded: string[]; dus: number });
  assert.deepEqual(
    steps.map((s) => s.step),
    ['idle', 'http-install'],
  );
  assert.equal(steps[0]!.dus, 1, 'the DU from a local file is installed');
  assert.deepEqual(steps[0]!.loaded, [], 'nothing heavy loaded while idle');
  assert.equal(steps[1]!.dus, 2, 'the DU over HTTP is installed');
  assert.deepEqual(steps[1]!.loaded, ['undici'], 'the download brought undici, CWMP stayed unloaded');
});
