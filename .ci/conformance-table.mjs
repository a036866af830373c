// Writes docs/conformance.md: every TP-469 case of the test plan in ../shared/spec/tp-469 (read now,
// never copied beyond case numbers and titles), whether it applies to this agent, the tests that
// check it (test names carry case ids) and, when available, their result in the last run; the cases of
// the sections that copy lacks, as spec/notes/tp469-cases.md names or counts them, with why they do
// not apply; then the
// CWMP checklist of test/cwmp/checklist.json, each line with its tests (which must exist: a line
// naming a missing test fails the script) or why it does not apply or is not done.
//
//   node .ci/conformance-table.mjs              table from the sources only (results: not run)
//   node .ci/conformance-table.mjs --run        runs dist/test/conformance (npm run build first)
//   node .ci/conformance-table.mjs --tap FILE   results of another run, from node --test's TAP output
//
// CPE_SHARED_DIR points at the standards when they are not in ../shared beside the clone.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { casesOnlyInNotes } from './tp469-notes.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const planDir = join(process.env.CPE_SHARED_DIR ?? join(root, '..', 'shared'), 'spec', 'tp-469');
const notesFile = join(planDir, '..', 'notes', 'tp469-cases.md');
const out = join(root, 'docs', 'conformance.md');

/** Case ids in a test name: "1.3 / 1.14 ..." -> 1.3, 1.14; "MQTT 3.1.1" names none. */
const idsIn = (name, known) =>
  [...name.matchAll(/(?<![\d.])(\d{1,2}\.\d{1,3})(?![\d.])/g)].map((m) => m[1]).filter((id) => known.has(id));

// Conditional cases that need what the agent's data model may not have (checked against datamodel/),
// and features it does not implement at all.
const NEEDS = [
  [['1.79', '1.91', '1.100', '9.11'], ['Device.ScheduleTimer()']],
  [['9.2'], ['Device.LocalAgent.AddCertificate()']],
  [['9.3', '9.4', '9.5', '9.6', '9.7', '9.8'], ['Device.DeviceInfo.FirmwareImage.{i}.']],
  [['9.10'], ['Device.Reboot()', 'Device.DeviceInfo.BootFirmwareImage']],
  [['1.61', '1.62', '1.105', '1.106'], ['Device.Reboot()']],
  [['1.60', '9.9'], ['Device.LocalAgent.Controller.{i}.SendOnBoardRequest()']],
  [['1.101', '1.102', '1.103'], ['Device.LocalAgent.Controller.{i}.OnBoardingRestartTime']],
  [['1.93', '1.94'], ['Device.LocalAgent.Subscription.{i}.TriggerConfigSettings']],
  [['1.59'], ['Device.LocalAgent.Periodic!']],
  [['2.27'], ['Device.LocalAgent.ControllerTrust.SecuredRoles']],
  [['10.13'], ['Device.BulkData.']],
  [['1.92'], ['Device.IP.Diagnostics.TraceRoute()']],
];
const NOT_IMPLEMENTED = {
  reason: 'no USP session context or end-to-end message protection (features 23, 24)',
  cases: ['2.6', '2.7', '2.8', ...Array.from({ length: 14 }, (_, i) => `3.${i + 2}`)],
};
// Sections of the full plan that the copy in spec/tp-469 lacks: what the agent would need for them
// (looked up in datamodel/ like NEEDS), or, where no data-model element tells, why they do not apply.
const ABSENT_SECTIONS = {
  5: { needs: ['Device.LocalAgent.MTP.{i}.CoAP.'], why: 'the agent has no CoAP MTP (MQTT only); CoAP is deprecated' },
  6: { needs: ['Device.LocalAgent.MTP.{i}.STOMP.'], why: 'the agent has no STOMP MTP (MQTT only)' },
  7: { needs: ['Device.LocalAgent.MTP.{i}.WebSocket.'], why: 'the agent has no WebSocket MTP (MQTT only)' },
  8: {
    why: 'the agent does no DHCP or mDNS discovery of Controllers (features 21, 22); its Controllers are configured',
  },
  10: { needs: ['Device.BulkData.'], why: 'the agent has no Bulk Data collection (BulkDataColl:1)' },
};

/** Elements the tests use in place of the plan's, as the plan allows; listed in the report. */
const SUBSTITUTIONS = {
  1.53: 'waits 2 s (not 20 s) for the Notify that must not come',
  1.55: 'TimeToLive 2 and a wait of 2.5 s (not 20 s)',
  1.59: 'PeriodicNotifInterval 2 s +/- 0.5 s (not 60 s +/- 4 s)',
  1.79: 'DelaySeconds 2 (not 30)',
  '1.100': 'waits 3 s (not 120 s) for the Notify that must not come',
  9.2: "over MQTT the controller's connection ends at the broker: a new controller client reconnects",
  9.11: 'DelaySeconds 2 (not 60)',
  '2.20': 'waits 2 s (not 30 s) for the Notify that must not come',
  11.9: "the Set's obj_path ends with '.' (the plan's lacks it, which the agent answers with 7008)",
  1.56: 'USPNotifRetryMinimumWaitInterval 1 (not 5), NotifExpiration 3 (not 20), watched for 6 s (not 60 s)',
  1.54: 'USPNotifRetryMinimumWaitInterval 1 (not 5): retries within 1-2 s, then 2-4 s (not 5-10 s, then 10-20 s)',
  1.64: 'Device.SoftwareModules.InstallDU() from a URL nothing serves as the asynchronous operation',
  1.65: 'Device.SoftwareModules.InstallDU() from a URL nothing serves as the asynchronous operation',
  2.21: "Orders above the role's own (Order is a unique key of Permission)",
  2.23: "the second Controller is added by the test; Orders above the role's own, not 1 twice (a unique key)",
  2.24: "the second Controller is added by the test; Orders above the role's own, not 1 twice (a unique key)",
  2.27: "the test controller plays the secondary one; the secured parameter is a Challenge's Value",
  11.5: 'a scripted MQTT 5.0 server; the agent is stopped and started again from its state (the reboot)',
  11.6: 'a scripted MQTT 5.0 server that drops connections; ForceReconnect() (not Reboot()); ConnectRetryTime 1',
  11.7: 'a scripted MQTT 5.0 server; ForceReconnect() (not a reboot); KeepAliveTime 2, Server Keep Alive 1',
  11.8: 'a scripted MQTT 5.0 server; ForceReconnect() (not a reboot)',
  '11.10': 'a scripted MQTT 5.0 server; ForceReconnect() (not a reboot); ResponseTopicConfigured emptied too',
  11.11: 'a scripted MQTT 5.0 server; ForceReconnect() (not a reboot); no Periodic! set up, waits 0.5 s',
  1.92:
    "the remote host is in a network namespace of the test; the run is cancelled after the first hop's 3 probes " +
    "and the next hop's first (30 default hops would take 7.5 minutes)",
  2.9: 'the operator has opted in: ControllerTrust.X_CPE-AGENT_AdmitUnknownControllers true in the defaults',
  11.16: "mosquitto ends the session (another client takes the agent's ClientID over); ConnectRetryTime 1",
};

function cases() {
  const list = [];
  for (const f of readdirSync(planDir)
    .filter((f) => /^\d\d-.*\.md$/.test(f))
    .sort()) {
    const lines = readFileSync(join(planDir, f), 'utf8').split('\n');
    lines.forEach((line, i) => {
      const m = /^## (\d+\.\d+) (.*)$/.exec(line);
      if (!m) return;
      let tag = '';
      const at = lines.findIndex((l, j) => j > i && /^### Functionality Tag/.test(l));
      const next = lines.findIndex((l, j) => j > i && /^## /.test(l));
      if (at > 0 && (next < 0 || at < next))
        tag =
          lines
            .slice(at + 1)
            .find((l) => l.trim())
            ?.trim() ?? '';
      list.push({ id: m[1], title: m[2].replace(/\\_/g, '_').trim(), tag });
    });
  }
  return list;
}

function supportedItems() {
  const items = new Set();
  for (const f of readdirSync(join(root, 'datamodel')).filter((f) => f.endsWith('.json'))) {
    for (const o of JSON.parse(readFileSync(join(root, 'datamodel', f), 'utf8')).objects ?? []) {
      items.add(o.path);
      for (const x of [...o.params, ...o.commands, ...o.events]) items.add(`${o.path}${x.name}`);
    }
  }
  return items;
}

/** Whether a case or section row that only the notes have applies; never "yes" without the plan's text. */
function appliesAbsent(r, items) {
  const s = ABSENT_SECTIONS[r.section];
  const needs = [...(NEEDS.find(([ids]) => ids.includes(r.id))?.[1] ?? []), ...(s?.needs ?? [])];
  if (!s) return 'unknown: not in the plan copy, and no reason known why it would not apply';
  if (needs.length && needs.every((p) => items.has(p)))
    return 'unknown: the agent may support this, but the plan copy lacks the case text';
  return `no: ${s.why}`;
}

function applies(c, items) {
  if (/DEPRECATED/i.test(c.title) || /DEPRECATED/i.test(c.tag)) return 'no: deprecated';
  if (/for future work/i.test(c.title)) return 'no: future work, no metrics';
  if (NOT_IMPLEMENTED.cases.includes(c.id)) return `no: ${NOT_IMPLEMENTED.reason}`;
  const needs = NEEDS.find(([ids]) => ids.includes(c.id))?.[1] ?? [];
  const missing = needs.filter((p) => !items.has(p));
  return missing.length ? `no: the agent has no ${missing.join(', ')}` : 'yes';
}

const tagOf = (raw) => {
  const tag = raw.replace(/^['"*_]+|['"*_]+$/g, '');
  if (/deprecated|^DEP\b/i.test(tag)) return 'DEP';
  return /^(conditional|CM\b)/i.test(tag) ? 'CM' : /^(mandatory|M\b)/i.test(tag) ? 'M' : tag;
};

/** Test names (the first argument of test(), or in test/conformance any literal starting with a case id). */
function testsInSources(known) {
  const files = execFileSync('git', ['ls-files', 'test'], { cwd: root, encoding: 'utf8' })
    .split('\n')
    .filter((f) => f.endsWith('.test.ts'));
  const tests = [];
  for (const f of files) {
    const src = readFileSync(join(root, f), 'utf8');
    const conformance = f.startsWith('test/conformance/');
    const re = conformance
      ? /(['`"])(\d{1,2}\.\d{1,3} (?:(?!\1).)*)\1/g
      : /\btest\(\s*(['`"])((?:\\.|(?!\1)[^\\])*)\1/gs;
    for (const m of src.matchAll(re)) {
      const name = m[2].replace(/\$\{(\w+)\}/g, '<$1>');
      const ids = conformance ? [name.split(' ')[0]].filter((id) => known.has(id)) : idsIn(name, known);
      if (ids.length) tests.push({ file: f, name, ids });
    }
  }
  return tests;
}

/** Top-level results of node --test's TAP output: name -> pass | FAIL | skipped. */
function tapResults(text) {
  const results = new Map();
  for (const m of text.matchAll(/^(not ok|ok) \d+ - (.*?)(?: # (SKIP|TODO)\b.*)?$/gm))
    results.set(m[2].trim(), m[3] ? 'skipped' : m[1] === 'ok' ? 'pass' : 'FAIL');
  return results;
}

/** The CWMP checklist; exits with an error when a line names a test that no file holds. */
function cwmpChecklist() {
  const list = JSON.parse(readFileSync(join(root, 'test', 'cwmp', 'checklist.json'), 'utf8'));
  const names = new Map();
  const namesIn = (file) => {
    if (!names.has(file)) {
      const path = join(root, 'test', file);
      const src = existsSync(path) ? readFileSync(path, 'utf8') : '';
      const found = [...src.matchAll(/\btest\(\s*(['`"])((?:\\.|(?!\1)[^\\])*)\1/gs)].map((m) => m[2]);
      // test(NAME, ...) with const NAME = '...'
      for (const m of src.matchAll(/\btest\(\s*([A-Z_]+)\s*,/g)) {
        const c = new RegExp(`const ${m[1]} =\\s*(['\`"])((?:\\\\.|(?!\\1)[^\\\\])*)\\1`, 's').exec(src);
        if (c) found.push(c[2]);
      }
      names.set(file, found);
    }
    return names.get(file);
  };
  const missing = [];
  for (const section of list.sections)
    for (const line of section.lines)
      for (const [file, name] of line.tests ?? [])
        if (!namesIn(file).some((n) => n.startsWith(name))) missing.push(`${line.id}: ${file}: "${name}"`);
  if (missing.length) {
    console.error(`test/cwmp/checklist.json names tests that do not exist:\n  ${missing.join('\n  ')}`);
    process.exit(1);
  }
  return list.sections;
}

/** Runs test/conformance and the quick tests elsewhere that claim cases (test/system needs --tap). */
function run(tests) {
  const dir = join(root, 'dist', 'test', 'conformance');
  if (!existsSync(dir)) throw new Error(`${relative(root, dir)} is missing: npm run build first`);
  const claimed = tests
    .map((t) => t.file)
    .concat(checklist.flatMap((s) => s.lines.flatMap((l) => (l.tests ?? []).map(([f]) => `test/${f}`))))
    .filter((f) => !f.startsWith('test/system/') && !f.startsWith('test/conformance/'))
    .map((f) => join(root, 'dist', f.replace(/\.ts$/, '.js')));
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.test.js'))
    .map((f) => join(dir, f));
  const r = spawnSync(process.execPath, ['--test', '--test-reporter=tap', ...files, ...new Set(claimed)], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  return r.stdout;
}

const all = cases();
const inCopy = new Set(all.map((c) => c.id));
const absent = casesOnlyInNotes(notesFile, inCopy);
const known = new Set([...inCopy, ...absent.flatMap((r) => r.ids ?? [r.id]).filter((id) => !id.endsWith('*'))]);
const items = supportedItems();
const tests = testsInSources(known);
const checklist = cwmpChecklist();

const args = process.argv.slice(2);
let tap = '';
if (args.includes('--run')) tap += run(tests);
const tapAt = args.indexOf('--tap');
if (tapAt >= 0) tap += readFileSync(args[tapAt + 1], 'utf8');
const results = tapResults(tap);
const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();

/**
 * The result of the run for one test name; names with <placeholders> match every expansion, and a
 * name the source splits over several literals matches by its first.
 */
function resultOf(name) {
  const pattern = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/<\w+>/g, '.+')}`);
  const seen = [...results].filter(([n]) => pattern.test(n)).map(([, r]) => r);
  if (!seen.length) return '';
  return seen.includes('FAIL') ? 'FAIL' : seen.every((r) => r === 'skipped') ? 'skipped' : 'pass';
}

/** The "Last run" cell: of the tests that check a row, how their latest results read. */
function lastRun(testCount, results) {
  if (!testCount) return '';
  if (!results.length) return 'not run';
  if (results.includes('FAIL')) return '**FAIL**';
  return results.every((r) => r === 'skipped') ? 'skipped' : 'pass';
}

const cell = (s) => String(s).replace(/\|/g, '\\|');
const row = (c, applying) => {
  const mine = tests.filter((t) => t.ids.includes(c.id));
  const named = mine.map((t) => `${t.file.replace(/^test\//, '')}: "${t.name}"`);
  const res = mine.map((t) => resultOf(t.name)).filter(Boolean);
  const last = lastRun(mine.length, res);
  const sub = SUBSTITUTIONS[c.id] ? ` (substitution: ${SUBSTITUTIONS[c.id]})` : '';
  const cols = [c.id, cell(c.title), tagOf(c.tag), cell(applying), cell(named.join('<br>') + sub), last];
  return `| ${cols.join(' | ')} |`;
};
const sectionOf = (id) => Number(id.split('.')[0]);
// The plan copy's cases in its order, each absent section's rows where the section falls.
const rows = [
  ...all.map((c) => ({ section: sectionOf(c.id), text: row(c, applies(c, items)) })),
  ...absent.map((r) => ({ section: r.section, text: row(r, appliesAbsent(r, items)) })),
]
  .sort((a, b) => a.section - b.section)
  .map((r) => r.text);
const absentCount = absent.reduce((n, r) => n + r.count, 0);
const absentApplying = absent.filter((r) => !appliesAbsent(r, items).startsWith('no:'));
const absentSections = [...new Set(absent.map((r) => r.section))].join(', ');
const absentVerdict = absentApplying.length
  ? `${absentApplying.length} of those rows may apply`
  : 'none of them applies';

const cwmpRows = checklist.flatMap((s) => [
  `| | **${cell(s.title)}** | | |`,
  ...s.lines.map((l) => {
    const tested = (l.tests ?? []).map(([f, n]) => `${f}: "${n}..."`);
    const res = (l.tests ?? []).map(([, n]) => resultOf(n)).filter(Boolean);
    const last = lastRun(tested.length, res);
    const status = l.na ? `does not apply: ${l.na}` : l.todo ? `not done: ${l.todo}` : tested.join('<br>');
    return `| ${l.id} | ${cell(l.line)} | ${cell(status)} | ${last} |`;
  }),
]);
const cwmpLines = checklist.flatMap((s) => s.lines);
const cwmpTested = cwmpLines.filter((l) => l.tests?.length);
const cwmpNa = cwmpLines.filter((l) => l.na);

const applicable = all.filter((c) => applies(c, items) === 'yes');
const covered = applicable.filter((c) => tests.some((t) => t.ids.includes(c.id)));
const flags = `${args.includes('--run') ? ' --run' : ''}${tapAt >= 0 ? ' --tap' : ''}`;
const doc = `# Conformance

## TP-469 (USP)

Generated by \`node .ci/conformance-table.mjs${flags}\` at commit ${commit}
from the test plan in \`spec/tp-469\` (TP-469 v1.4.0; case numbers and titles only) and the names of the tests in
\`test/\`, which carry the case ids they check. Tests in \`test/conformance\` are named "<case> <title>" and
run against a real agent and controller over mosquitto; the others cover cases in passing.
"Last run": the result of the tests that check the case in the run the table was made with (empty:
no test; not run: the run did not include them).

${applicable.length} of ${all.length} cases apply; ${covered.length} of those have a test.
The full plan has ${all.length + absentCount} cases: the ${absentCount} of sections ${absentSections}, which the copy
lacks, are rows named and counted as \`spec/notes/tp469-cases.md\` does (a section's row stands for the cases
the notes only count); ${absentVerdict}.

| Case | Title | Tag | Applies | Tests | Last run |
|---|---|---|---|---|---|
${rows.join('\n')}

## CWMP (TR-069 Amendment 6, CPE side)

The checklist in \`spec/notes/cwmp-cpe-checklist.md\`, one row a requirement, with the tests that prove it
(listed in \`test/cwmp/checklist.json\` by file and the start of the test's name; the script refuses a
name no test has). Tests in \`test/cwmp\` run the agent's CWMP client against the test ACS
(\`test/cwmp/acs.ts\`), which validates every envelope against the CWMP schemas.

${cwmpLines.length} lines; ${cwmpNa.length} do not apply; ${cwmpTested.length} have a test.

| Line | Requirement | Tests, or why none | Last run |
|---|---|---|---|
${cwmpRows.join('\n')}
`;
writeFileSync(out, doc);
console.log(
  `${relative(root, out)}: ${all.length} cases, ${applicable.length} apply, ${covered.length} tested; ` +
    `${absentCount} more only in the notes (${absent.length} rows, ${absentApplying.length} may apply); ` +
    `CWMP: ${cwmpLines.length} lines, ${cwmpNa.length} do not apply, ${cwmpTested.length} tested`,
);
