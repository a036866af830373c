// The seccomp program the agent loads itself into networked LXC units: its shape (ABI check, one jump per
// denied number, a shared EPERM return), what it decides for each call (run by a small classic-BPF
// interpreter here), the system call table against the kernel headers, and the host's perl loading it
// for real: a denied call fails with EPERM in the process and its children, others still work.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { netAttachArgv } from '../../src/engine/backends/lxc/net-attach.js';
import { DENIED_SYSCALLS } from '../../src/engine/backends/lxc/policy.js';
import {
  abisOf,
  BPF,
  deniedNumbers,
  denyProgram,
  encode,
  type Insn,
  SECCOMP,
} from '../../src/engine/backends/lxc/seccomp-bpf.js';
import { findSeccompLoader, requireSeccompLoader, underSeccomp } from '../../src/engine/backends/lxc/seccomp-loader.js';
import { AUDIT_ARCH, type SeccompAbi, SYSCALL_NUMBERS } from '../../src/engine/backends/lxc/syscall-numbers.js';
import { EngineCode, EngineError } from '../../src/engine/errors.js';
import { missing } from '../helpers.js';

/** Runs a seccomp program as the kernel would, for one call: its return value. */
function run(program: readonly Insn[], arch: number, nr: number): number {
  let a = 0;
  for (let pc = 0; pc < program.length; pc++) {
    const p = program[pc]!;
    if (p.code === BPF.LD_W_ABS) a = p.k === SECCOMP.ARCH ? arch : p.k === SECCOMP.NR ? nr : Number.NaN;
    else if (p.code === BPF.JEQ_K) pc += a === p.k ? p.jt : p.jf;
    else if (p.code === BPF.JGE_K) pc += a >>> 0 >= p.k ? p.jt : p.jf;
    else if (p.code === BPF.RET_K) return p.k;
    else throw new Error(`unexpected instruction ${p.code}`);
  }
  throw new Error('ran off the end of the program');
}

test('the program checks the ABI, then jumps once per denied number to one shared EPERM return', () => {
  const prog = denyProgram(['x86_64', 'i386']);
  assert.deepEqual(prog[0], { code: BPF.LD_W_ABS, jt: 0, jf: 0, k: SECCOMP.ARCH });
  const last = prog.length - 1;
  assert.deepEqual(prog[last], { code: BPF.RET_K, jt: 0, jf: 0, k: SECCOMP.RET_ERRNO_EPERM });
  // x86_64 section: arch check, load nr, x32 refused, one jeq per number, allow.
  const x = deniedNumbers('x86_64');
  assert.equal(x.length, DENIED_SYSCALLS.length, 'every denied call exists on x86_64, once');
  assert.deepEqual(prog[1], { code: BPF.JEQ_K, jt: 0, jf: x.length + 3, k: AUDIT_ARCH.x86_64 });
  assert.deepEqual(prog[2], { code: BPF.LD_W_ABS, jt: 0, jf: 0, k: SECCOMP.NR });
  assert.equal(prog[3]!.code, BPF.JGE_K);
  assert.equal(prog[3]!.k, SECCOMP.X32_SYSCALL_BIT);
  const jumps = prog.slice(4, 4 + x.length);
  assert.deepEqual(
    jumps.map((j) => j.k),
    x,
  );
  jumps.forEach((j, i) => {
    assert.equal(j.code, BPF.JEQ_K);
    assert.equal(4 + i + 1 + j.jt, last, 'each denied number jumps to the EPERM return');
    assert.equal(j.jf, 0);
  });
  assert.deepEqual(prog[4 + x.length], { code: BPF.RET_K, jt: 0, jf: 0, k: SECCOMP.RET_ALLOW });
  // i386 section follows, without the x32 check.
  const i = deniedNumbers('i386');
  assert.deepEqual(prog[5 + x.length], { code: BPF.JEQ_K, jt: 0, jf: i.length + 2, k: AUDIT_ARCH.i386 });
  assert.equal(prog.length, 1 + (x.length + 4) + (i.length + 3) + 1);
  assert.equal(prog.filter((p) => p.code === BPF.JEQ_K && p.jt > 0).length, x.length + i.length);
});

test('what the program decides: denied calls EPERM, others allowed, x32 and unknown ABIs refused', () => {
  const prog = denyProgram(['x86_64', 'i386']);
  for (const nr of deniedNumbers('x86_64')) assert.equal(run(prog, AUDIT_ARCH.x86_64, nr), SECCOMP.RET_ERRNO_EPERM);
  for (const nr of deniedNumbers('i386')) assert.equal(run(prog, AUDIT_ARCH.i386, nr), SECCOMP.RET_ERRNO_EPERM);
  // read, write, execve, chroot, setns, prctl, setuid on x86_64; read, setns on i386: what the chain needs.
  for (const nr of [0, 1, 59, 161, 308, 157, 105]) assert.equal(run(prog, AUDIT_ARCH.x86_64, nr), SECCOMP.RET_ALLOW);
  for (const nr of [3, 346]) assert.equal(run(prog, AUDIT_ARCH.i386, nr), SECCOMP.RET_ALLOW);
  assert.equal(run(prog, AUDIT_ARCH.x86_64, SECCOMP.X32_SYSCALL_BIT), SECCOMP.RET_ERRNO_EPERM, 'x32 read');
  assert.equal(run(prog, AUDIT_ARCH.aarch64, 63), SECCOMP.RET_ERRNO_EPERM, 'an ABI without a section');
  const arm = denyProgram(['aarch64', 'arm']);
  assert.equal(run(arm, AUDIT_ARCH.aarch64, 40), SECCOMP.RET_ERRNO_EPERM, 'aarch64 mount');
  assert.equal(run(arm, AUDIT_ARCH.aarch64, 63), SECCOMP.RET_ALLOW, 'aarch64 read');
  assert.equal(run(arm, AUDIT_ARCH.arm, 21), SECCOMP.RET_ERRNO_EPERM, 'arm mount');
  assert.equal(run(arm, AUDIT_ARCH.arm, 3), SECCOMP.RET_ALLOW, 'arm read');
  assert.equal(run(arm, AUDIT_ARCH.x86_64, 0), SECCOMP.RET_ERRNO_EPERM);
});

test('the ABIs of a machine; an unknown or big-endian one has none (the unit is then refused)', () => {
  assert.deepEqual(abisOf('x86_64', 'LE'), ['x86_64', 'i386']);
  assert.deepEqual(abisOf('aarch64', 'LE'), ['aarch64', 'arm']);
  assert.deepEqual(abisOf('armv7l', 'LE'), ['arm']);
  assert.equal(abisOf('mips', 'LE'), undefined);
  assert.equal(abisOf('riscv64', 'LE'), undefined);
  assert.equal(abisOf('aarch64', 'BE'), undefined);
});

test('encoded as struct sock_filter: 8 little-endian bytes each', () => {
  const b = encode([{ code: BPF.RET_K, jt: 1, jf: 2, k: SECCOMP.RET_ALLOW }]);
  assert.equal(b.toString('hex'), '060001020000ff7f');
});

test('the table: known numbers, and every ABI agrees with the kernel headers where they are installed', (t) => {
  const x = SYSCALL_NUMBERS.x86_64;
  assert.deepEqual([x.mount, x.keyctl, x.bpf, x.kexec_load, x.open_tree], [[165], [250], [321], [246], [428]]);
  const a = SYSCALL_NUMBERS.aarch64;
  assert.deepEqual([a.mount, a.keyctl, a.bpf, a.kexec_load, a.iopl], [[40], [219], [280], [104], []]);
  assert.deepEqual(SYSCALL_NUMBERS.arm.mount, [21]);
  const headers: [SeccompAbi, string][] = [
    ['x86_64', '/usr/include/x86_64-linux-gnu/asm/unistd_64.h'],
    ['i386', '/usr/include/x86_64-linux-gnu/asm/unistd_32.h'],
    ['aarch64', '/usr/include/asm-generic/unistd.h'],
  ];
  const twins: Partial<Record<string, string[]>> = {
    umount2: ['umount'],
    clock_settime: ['clock_settime64'],
    clock_adjtime: ['clock_adjtime64'],
  };
  for (const [abi, file] of headers) {
    if (!existsSync(file)) {
      missing(t, `${file} (linux-libc-dev) to check the ${abi} table against`);
      continue;
    }
    const text = readFileSync(file, 'utf8');
    const nr = (name: string) => {
      const m = new RegExp(`#define __NR(?:3264)?_${name}\\s+(\\d+)`).exec(text);
      return m ? Number(m[1]) : undefined;
    };
    for (const s of DENIED_SYSCALLS) {
      // The 64-bit-time twins are for 32-bit ABIs (the generic header defines them under __BITS_PER_LONG == 32).
      const all = abi === 'i386' ? [s, ...(twins[s] ?? [])] : [s];
      const want = all.map(nr).filter((n): n is number => n !== undefined);
      assert.deepEqual(SYSCALL_NUMBERS[abi][s], want, `${abi} ${s}`);
    }
  }
});

test('a networked unit: the loader runs before nsenter, and the DU environment only reaches the container', () => {
  const loader = { perl: '/usr/bin/perl', prctl: 157, program: '00' };
  const argv = netAttachArgv(
    {
      initPid: 42,
      ids: { base: 1_000_000, size: 65_536 },
      uid: 0,
      gid: 0,
      netns: '/run/netns/x',
      cgroups: ['/c'],
      loader,
    },
    { env: { LD_PRELOAD: '/evil.so', A: 'b c' }, cwd: '/du/x', command: 'bin/web', args: ['-p', '1'] },
  );
  const perl = argv.indexOf('/usr/bin/perl');
  const nsenter = argv.indexOf('nsenter');
  assert.ok(perl > 0 && nsenter > perl, 'perl loads the filter, then nsenter runs under it');
  assert.deepEqual(argv.slice(perl + 3, perl + 6), ['--', '157', '00']);
  assert.equal(argv.indexOf('LD_PRELOAD=/evil.so') > argv.lastIndexOf('/bin/sh'), true);
  assert.deepEqual(argv.slice(-5), ['A=b c', '--', 'bin/web', '-p', '1']);
  assert.ok(argv.includes('--setuid=1000000'));
  assert.ok(!argv.includes('--user'), 'not the container user namespace: its capabilities would come along');
});

test('the host perl loads the filter: no_new_privs, seccomp mode 2, a denied call EPERM, the rest works', (t) => {
  const found = findSeccompLoader();
  if ('missing' in found) return missing(t, found.missing);
  // What is missing, without the host paths looked in (the text reaches controllers).
  assert.deepEqual(findSeccompLoader(['/nonexistent/perl']), {
    missing: 'perl, the seccomp filter loader (not installed on the host)',
  });
  const abi = abisOf()![0]!;
  const keyctl = SYSCALL_NUMBERS[abi].keyctl[0]!;
  // keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, create): allowed to anyone without the filter.
  const probe = `print syscall(${keyctl}, 0, -3, 1) < 0 ? "denied:" . ($!+0) : "allowed", "\\n"`;
  const free = execFileSync(found.loader.perl, ['-e', probe], { encoding: 'utf8' });
  const status = 'grep -E "^(NoNewPrivs|Seccomp):" /proc/self/status';
  const argv = underSeccomp(found.loader, ['/bin/sh', '-c', `${status}; "$0" -e '${probe}'`, found.loader.perl]);
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /NoNewPrivs:\s+1/);
  assert.match(r.stdout, /Seccomp:\s+2/);
  assert.match(r.stdout, /denied:1\n/, 'keyctl fails with EPERM under the filter, in a child of the loader');
  if (free.trim() !== 'allowed') t.diagnostic(`keyctl fails here without the filter too (${free.trim()})`);
});

test('without the loader a networked install into an LXC EE is refused (7022) naming what is missing', () => {
  const none = findSeccompLoader(['/nonexistent/perl']);
  assert.throws(
    () => requireSeccompLoader(none),
    (e: unknown) =>
      e instanceof EngineError &&
      e.code === EngineCode.CommandFailure &&
      /without the EE's seccomp list; missing perl, the seccomp filter loader \(not installed on the host\)/.test(
        e.message,
      ),
  );
});
