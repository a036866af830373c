// What the tests leave behind: `node .ci/leftovers.mjs save FILE` records the processes, mounts,
// network devices, named network namespaces and nftables tables before the tests;
// `node .ci/leftovers.mjs check FILE` fails, naming them, when any exist after the tests that did not
// before. A process is known by its pid and start time (pids are
// reused); kernel threads (no command line) come and go by themselves and are left out, as are this
// script, the shells that started it and the children of processes that ran before the tests.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';

const [, , action, file] = process.argv;

/** pid -> parent pid, for the ancestors of this script. */
function parentOf(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

function ancestors() {
  const out = new Set([process.pid]);
  for (let p = process.ppid; p > 1; p = parentOf(p)) out.add(p);
  return out;
}

function processes() {
  const skip = ancestors();
  const list = {};
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p) && !skip.has(Number(p)))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      if (!cmd) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue; // a zombie is its parent's to reap, and ends with it
      const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      list[`${pid}@${fields[19]}`] = { ppid: Number(fields[1]), text: `uid ${uid} pid ${pid}: ${cmd}` };
    } catch {} // ended meanwhile
  }
  return list;
}

const mounts = () => readFileSync('/proc/mounts', 'utf8').split('\n').filter(Boolean);
const list = (dir) => (existsSync(dir) ? readdirSync(dir) : []);
/** `nft list tables` lines, where nft runs (root); none elsewhere. */
function tables() {
  try {
    return execFileSync('nft', ['list', 'tables'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .filter(Boolean);
  } catch {
    return [];
  }
}
const network = () => [
  ...list('/sys/class/net').map((n) => `network device ${n}`),
  ...list('/run/netns').map((n) => `network namespace ${n}`),
  ...tables().map((t) => `nftables ${t}`),
];
const snapshot = () => ({ processes: processes(), mounts: mounts(), network: network() });

function leftovers(before) {
  const now = snapshot();
  // A child of a process that ran before the tests (other than init, which adopts orphans) is that
  // process's doing, not the tests'.
  const older = new Set(Object.keys(before.processes).map((k) => Number(k.split('@')[0])));
  return [
    ...Object.entries(now.processes)
      .filter(([k, v]) => !(k in before.processes) && !(v.ppid > 1 && older.has(v.ppid)))
      .map(([, v]) => `process left running: ${v.text}`),
    ...now.mounts.filter((m) => !before.mounts.includes(m)).map((m) => `mount left: ${m}`),
    ...now.network.filter((n) => !(before.network ?? []).includes(n)).map((n) => `left: ${n}`),
  ];
}

if (action === 'save') writeFileSync(file, JSON.stringify(snapshot()));
else if (action === 'check') {
  const before = JSON.parse(readFileSync(file, 'utf8'));
  let left = leftovers(before);
  // What a test's last cleanup signalled may take a moment to go.
  for (let i = 0; i < 20 && left.length; i++) {
    await new Promise((r) => setTimeout(r, 250));
    left = leftovers(before);
  }
  for (const l of left) console.error(`ci: ${l}`);
  if (left.length) {
    console.error(`ci: the tests left ${left.length} process(es), mount(s) or network object(s) behind`);
    process.exit(1);
  }
  console.log('ci: no process, mount or network object left behind');
} else {
  console.error('usage: node .ci/leftovers.mjs save|check FILE');
  process.exit(2);
}
