// What the process-level benchmarks share: a mosquitto of their own, free ports, a process's RSS.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, connect } from 'node:net';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const freePort = () => new Promise<number>((r) => { const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => r(p)); }); });
const listening = (port: number) => new Promise<boolean>((r) => { const s = connect(port, '127.0.0.1', () => { s.end(); r(true); }); s.on('error', () => r(false)); });

/** Resident set size of a process in MB (VmRSS, as `ps` and `top` show it). */
export const rssMB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

export function mosquittoBinary(): string | undefined {
  for (const p of ['/usr/sbin/mosquitto', '/usr/bin/mosquitto']) { try { execFileSync('test', ['-x', p]); return p; } catch { /* next */ } }
  return undefined;
}

/** mosquitto on 127.0.0.1:port with anonymous access, listening when this resolves. */
export async function startMosquitto(bin: string, dir: string, port: number): Promise<ChildProcess> {
  writeFileSync(join(dir, 'm.conf'), `listener ${port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n`);
  const broker = spawn(bin, ['-c', join(dir, 'm.conf')], { stdio: 'ignore' });
  while (!(await listening(port))) await sleep(20);
  return broker;
}
