// Test network namespaces as a user's traffic sees the device: a veth from the host into a namespace of
// the test's (a client behind the mapped interface, or a server behind an access interface), requests
// made from inside one, an HTTP server in one that answers with the address it sees, and what of the
// agent's is on the host (tables, links, namespaces of a bridge) for the "nothing left" checks.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { waitFor } from '../helpers.js';

/** A host interface and the namespace at its other end, each with an address in a /24. */
export interface TestLink {
  readonly host: string;
  readonly ns: string;
  readonly hostIp: string;
  readonly nsIp: string;
}

const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8' });
export const quiet = (cmd: string, ...args: string[]): void => {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
  } catch {}
};

/** A link named after tag and this process (15 characters at most), in 10.<net>.<sub>.0/24. */
export function testLink(tag: string, net: number): TestLink {
  const id = String(process.pid % 100000);
  const sub = (process.pid % 200) + 20;
  return {
    host: `${tag}${id}`,
    ns: `${tag}n${id}`,
    hostIp: `10.${net}.${sub}.1`,
    nsIp: `10.${net}.${sub}.2`,
  };
}

export function makeLink(l: TestLink): void {
  ip('netns', 'add', l.ns);
  ip('link', 'add', l.host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', l.ns);
  ip('addr', 'add', `${l.hostIp}/24`, 'dev', l.host);
  ip('link', 'set', l.host, 'up');
  ip('-n', l.ns, 'addr', 'add', `${l.nsIp}/24`, 'dev', 'eth0');
  ip('-n', l.ns, 'link', 'set', 'eth0', 'up');
  ip('-n', l.ns, 'link', 'set', 'lo', 'up');
}

export function removeLink(l: TestLink): void {
  quiet('ip', 'link', 'del', l.host);
  quiet('ip', 'netns', 'del', l.ns);
}

/** A GET from inside a namespace; '<unreachable>' when it fails or takes over 5 s. */
export function getFrom(ns: string, url: string): string {
  try {
    // busybox wget's own -T crashes (busybox 1.35 on Debian 12): timeout bounds it instead.
    const wget = ['busybox', 'timeout', '5', 'busybox', 'wget', '-q', '-O', '-', url];
    return execFileSync('ip', ['netns', 'exec', ns, ...wget], { encoding: 'utf8', stdio: 'pipe' });
  } catch {
    return '<unreachable>';
  }
}

/** An HTTP server in a namespace, on port, answering each request with the client address it sees. */
export async function addressEcho(ns: string, port: number): Promise<ChildProcess> {
  const code = `require('http').createServer((q, s) => s.end(q.socket.remoteAddress)).listen(${port}, '0.0.0.0')`;
  const server = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', code], { stdio: 'ignore' });
  await waitFor(() => getFrom(ns, `http://127.0.0.1:${port}/`) !== '<unreachable>');
  return server;
}

/** The agent's tables, links and namespaces for a bridge, as on the host now. */
export function agentNetOf(bridge: string): string[] {
  const table = `cpe_agent_${bridge}`;
  const tables = execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' })
    .split('\n')
    .filter((t) => t.includes(table));
  const links = readdirSync('/sys/class/net').filter((l) => l.startsWith(bridge));
  const netns = existsSync('/run/netns') ? readdirSync('/run/netns').filter((x) => x.startsWith(`${bridge}-`)) : [];
  return [...tables, ...links, ...netns];
}

/** Removes what agentNetOf lists (a failed test's leftovers). */
export function removeAgentNet(bridge: string): void {
  for (const x of agentNetOf(bridge)) {
    if (x.startsWith('table ')) quiet('nft', 'delete', 'table', ...x.slice(6).split(' '));
    else if (existsSync(`/run/netns/${x}`)) quiet('ip', 'netns', 'del', x);
    else quiet('ip', 'link', 'del', x);
  }
}
