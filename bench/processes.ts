// What the process-level benchmarks share beyond the test fixtures they reuse (a mosquitto of their
// own, free ports: test/system/mosquitto.ts): a broker in a working directory, a process's RSS.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, Mosquitto, mosquittoPath } from '../test/system/mosquitto.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const statusMB = (pid: number, field: string) =>
  Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
/** Resident set size of a process in MB (VmRSS, as `ps` and `top` show it). */
export const rssMB = (pid: number) => statusMB(pid, 'VmRSS');
/** The two parts of it: pages of files (Node's own binary above all, shared with every other Node
 *  process) and anonymous memory (the JavaScript heap, compiled code, buffers, malloc). */
export const rssPartsMB = (pid: number) => ({ file: statusMB(pid, 'RssFile'), anon: statusMB(pid, 'RssAnon') });

/** From /proc/<pid>/smaps_rollup, in MB: the resident set and the part of it that is this process's
 *  alone and written (heap, stacks, malloc; what the process really costs the device). */
export function smapsMB(pid: number): { rss: number; privateDirty: number } {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kB = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)![1]) / 1024;
  return { rss: kB('Rss'), privateDirty: kB('Private_Dirty') };
}

/** A working directory with a mosquitto of its own listening on a free port; undefined (and said so)
 *  when mosquitto is not installed. stock: mosquitto's default TCP settings (no set_tcp_nodelay). */
export async function benchBroker(
  name: string,
  o: { stock?: boolean } = {},
): Promise<{ dir: string; port: number; broker: Mosquitto } | undefined> {
  const bin = mosquittoPath();
  if (!bin) {
    console.log(`${name} benchmark skipped: mosquitto is not installed`);
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), `cpe-bench-${name}-`));
  // A fixed port (BENCH_MQTT_PORT) lets another agent be configured for the bench's broker beforehand.
  const port = Number(process.env.BENCH_MQTT_PORT) || (await freePort());
  const broker = new Mosquitto(bin, dir, port, undefined, '', !o.stock);
  await broker.start();
  return { dir, port, broker };
}
