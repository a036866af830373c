// What the process-level benchmarks share beyond the test fixtures they reuse (a mosquitto of their
// own, free ports: test/system/mosquitto.ts): a process's RSS.
import { readFileSync } from 'node:fs';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resident set size of a process in MB (VmRSS, as `ps` and `top` show it). */
export const rssMB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
