// A real mosquitto broker on a free loopback port, for system tests. Absent mosquitto skips the
// test loudly on a developer machine and fails it in CI, where .ci/run installs it.
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { requireTool, stopChild, which } from '../helpers.js';

export const mosquittoPath = (): string | undefined => which('mosquitto');

/** Skips (locally) or fails (CI) when mosquitto is missing; returns its path otherwise. */
export function requireMosquitto(t: TestContext): string | undefined {
  return requireTool(t, 'mosquitto') ? mosquittoPath() : undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A real mosquitto on 127.0.0.1:port, anonymous access, no persistence. */
export class Mosquitto {
  private proc: ChildProcess | undefined;
  /**
   * tls: serve TLS only, and require client certificates signed by the CA; conf: more lines for
   * mosquitto.conf; tcpNoDelay false: the stock setting, where the broker's small packets wait on Nagle
   * (what most deployed brokers do, and what the agent must stay fast against).
   */
  constructor(
    readonly bin: string,
    readonly dir: string,
    readonly port: number,
    readonly tls?: { ca: string; cert: string; key: string },
    readonly conf = '',
    readonly tcpNoDelay = true,
  ) {}

  async start(): Promise<void> {
    const conf = join(this.dir, 'mosquitto.conf');
    const tls = this.tls
      ? `cafile ${this.tls.ca}\ncertfile ${this.tls.cert}\nkeyfile ${this.tls.key}\nrequire_certificate true\n`
      : '';
    writeFileSync(
      conf,
      `listener ${this.port} 127.0.0.1\n${tls}allow_anonymous true\n` +
        `${this.tcpNoDelay ? 'set_tcp_nodelay true\n' : ''}persistence false\n${this.conf}`,
    );
    this.proc = spawn(this.bin, ['-c', conf], { stdio: 'ignore' });
    const end = Date.now() + 5000;
    while (Date.now() < end) {
      if (
        await new Promise<boolean>((r) => {
          const s = connect(this.port, '127.0.0.1', () => {
            s.end();
            r(true);
          });
          s.on('error', () => r(false));
        })
      )
        return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`mosquitto did not listen on ${this.port}`);
  }

  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    await stopChild(p);
  }
}
