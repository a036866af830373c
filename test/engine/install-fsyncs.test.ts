// What one InstallDU costs in disk flushes on the native backend, end to end (operate request to the
// DU installed and its EU Active in the data model): at most 3. The journal entry the operation starts
// with, and the DU records (file and directory); the EU's runtime state and the data model's copy of
// the records are not flushed, and writes that change nothing are not made.
import assert from 'node:assert/strict';
import test from 'node:test';
import { installFsyncs } from '../fixtures/install-fsyncs.js';

test('an InstallDU on the native backend costs at most 3 fsyncs', async () => {
  const { counts, files } = await installFsyncs(3);
  for (const n of counts) assert.ok(n <= 3, `${n} fsyncs for one InstallDU (at most 3): ${files.join(', ')}`);
  // The flushes that remain are the ones a power cut needs: the operation's entry and the DU records.
  assert.ok(
    files.some((f) => /\/engine\/ops\/[0-9a-f]+\.json$/.test(f)),
    files.join(', '),
  );
  assert.ok(
    files.some((f) => /\/engine\/\.dus\.json\.\d+\.tmp$/.test(f)),
    files.join(', '),
  );
  assert.ok(!files.some((f) => f.endsWith('datamodel.journal')), 'the EU state is not flushed to the journal');
});
