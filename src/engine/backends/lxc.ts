// The LXC backend: an execution environment is an LXC system container (busybox rootfs, no
// network device unless configured, memory and CPU limits through cgroups), driven through the
// lxc-* tools with execa; services run inside it through lxc-attach, in their own session.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { EngineCode, EngineError } from '../errors.js';
import type { Launch, ProcessLauncher } from '../supervisor.js';

export interface LxcLimits { memoryKiB: number; cpuPercent: number }

/** Where packages and data live inside a container. */
export const IN_CONTAINER = { du: '/opt/cpe/du', data: '/var/lib/cpe/data' } as const;

export class LxcHost {
  constructor(readonly lxcpath: string) { mkdirSync(lxcpath, { recursive: true, mode: 0o700 }); }

  /** LXC is usable when its tools and a busybox to build a rootfs from are both on the machine. */
  static async available(): Promise<boolean> {
    const ok = async (cmd: string, args: string[]) => (await execa(cmd, args, { reject: false })).exitCode === 0;
    return (await ok('lxc-create', ['--version'])) && (await ok('busybox', ['true']));
  }

  rootfs(name: string): string { return join(this.lxcpath, name, 'rootfs'); }

  async create(name: string, limits: LxcLimits): Promise<void> {
    const conf = join(this.lxcpath, `${name}.conf`);
    writeFileSync(conf, [
      'lxc.net.0.type = empty',
      'lxc.apparmor.profile = unconfined',
      ...limitLines(limits),
      '',
    ].join('\n'));
    const r = await execa('lxc-create', ['-P', this.lxcpath, '-n', name, '-t', 'busybox', '-f', conf], { reject: false });
    if (r.exitCode !== 0) throw new EngineError(EngineCode.InternalError, `lxc-create ${name} failed: ${lastLine(r.stderr)}`);
    for (const d of [IN_CONTAINER.du, IN_CONTAINER.data]) mkdirSync(join(this.rootfs(name), d), { recursive: true, mode: 0o755 });
  }

  async state(name: string): Promise<'RUNNING' | 'STOPPED' | 'ABSENT' | string> {
    if (!existsSync(join(this.lxcpath, name, 'config'))) return 'ABSENT';
    const r = await execa('lxc-info', ['-P', this.lxcpath, '-n', name, '-s', '-H'], { reject: false });
    return r.exitCode === 0 ? r.stdout.trim() : 'ABSENT';
  }

  async start(name: string): Promise<void> {
    if ((await this.state(name)) === 'RUNNING') return;
    const r = await execa('lxc-start', ['-P', this.lxcpath, '-n', name, '-d'], { reject: false });
    if (r.exitCode !== 0) throw new EngineError(EngineCode.InternalError, `lxc-start ${name} failed: ${lastLine(r.stderr)}`);
    const w = await execa('lxc-wait', ['-P', this.lxcpath, '-n', name, '-s', 'RUNNING', '-t', '10'], { reject: false });
    if (w.exitCode !== 0) throw new EngineError(EngineCode.InternalError, `container ${name} did not reach RUNNING`);
  }

  async stop(name: string): Promise<void> {
    if ((await this.state(name)) !== 'RUNNING') return;
    await execa('lxc-stop', ['-P', this.lxcpath, '-n', name, '-t', '5'], { reject: false });
  }

  async destroy(name: string): Promise<void> {
    await execa('lxc-stop', ['-P', this.lxcpath, '-n', name, '-k'], { reject: false });
    await execa('lxc-destroy', ['-P', this.lxcpath, '-n', name, '-f'], { reject: false });
  }

  /** Applies new limits to the running container and to its configuration for the next start. */
  async setLimits(name: string, limits: LxcLimits): Promise<void> {
    const cfg = join(this.lxcpath, name, 'config');
    const kept = readFileSync(cfg, 'utf8').split('\n').filter((l) => !/^lxc\.cgroup2?\.(memory|cpu)\./.test(l));
    writeFileSync(cfg, [...kept.filter((l) => l !== ''), ...limitLines(limits), ''].join('\n'));
    if ((await this.state(name)) !== 'RUNNING') return;
    for (const l of limitLines(limits)) {
      const m = /^lxc\.cgroup2?\.(\S+) = (\S+)$/.exec(l);
      if (m) await execa('lxc-cgroup', ['-P', this.lxcpath, '-n', name, m[1]!, m[2]!], { reject: false });
    }
  }

  /** Memory the container uses now, from its cgroup. */
  async memoryKiB(name: string): Promise<number> {
    const r = await execa('lxc-cgroup', ['-P', this.lxcpath, '-n', name, 'memory.usage_in_bytes'], { reject: false });
    return r.exitCode === 0 ? Math.floor(Number(r.stdout.trim()) / 1024) : 0;
  }

  /** Runs services inside the container: lxc-attach with a clean environment, cd to the DU. */
  launcher(name: string): ProcessLauncher {
    const host = this;
    return {
      spawn(_euid: string, launch: Launch, logFd: number) {
        const args = ['-P', host.lxcpath, '-n', name, '--clear-env', '--set-var', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin'];
        for (const [k, v] of Object.entries(launch.env)) args.push('--set-var', `${k}=${v}`);
        const uid = launch.user === undefined ? undefined : uidIn(host.rootfs(name), launch.user);
        if (uid !== undefined) args.push('-u', String(uid.uid), '-g', String(uid.gid));
        args.push('--', '/bin/sh', '-c', 'cd "$0" && exec "$@"', launch.cwd, launch.command, ...launch.args);
        const child = spawn('lxc-attach', args, { stdio: ['ignore', logFd, logFd], detached: true });
        const exited = new Promise<number | null>((resolve) => {
          child.once('exit', (code) => resolve(code));
          child.once('error', () => resolve(127));
        });
        if (child.pid === undefined) throw new Error('lxc-attach could not be executed');
        child.unref();
        return { pid: child.pid, exited };
      },
    };
  }
}

/** cgroup v1 (this machine) or v2 keys for a memory limit in KiB and a CPU share of one core in percent. */
function limitLines(l: LxcLimits): string[] {
  const v1 = existsSync('/sys/fs/cgroup/memory');
  const out: string[] = [];
  if (l.memoryKiB > 0) out.push(v1 ? `lxc.cgroup.memory.limit_in_bytes = ${l.memoryKiB * 1024}` : `lxc.cgroup2.memory.max = ${l.memoryKiB * 1024}`);
  if (l.memoryKiB > 0 && v1) out.push(`lxc.cgroup.memory.memsw.limit_in_bytes = ${l.memoryKiB * 1024}`);
  if (l.cpuPercent > 0) {
    const quota = Math.max(1000, Math.round(100_000 * (l.cpuPercent / 100)));
    out.push(...(v1 ? ['lxc.cgroup.cpu.cfs_period_us = 100000', `lxc.cgroup.cpu.cfs_quota_us = ${quota}`] : [`lxc.cgroup2.cpu.max = ${quota} 100000`]));
  }
  return out;
}

function uidIn(rootfs: string, user: string): { uid: number; gid: number } | undefined {
  if (/^\d+$/.test(user)) return { uid: Number(user), gid: Number(user) };
  try {
    for (const line of readFileSync(join(rootfs, 'etc/passwd'), 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === user) return { uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch { /* no passwd: the user can't be resolved */ }
  throw new Error(`user '${user}' does not exist in the container`);
}

const lastLine = (s: string) => s.trim().split('\n').pop() ?? '';
