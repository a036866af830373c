// The EE's seccomp deny list (DENIED_SYSCALLS) as a classic-BPF seccomp program, for units the agent
// starts itself instead of through LXC (networked units, net-attach.ts): LXC builds its filter with
// libseccomp from the same list; the agent has no libseccomp, so it writes the program here.
// The program checks the ABI a call came through first, since a number means another call in another
// ABI: each ABI the kernel runs gets its own section (x86_64 and i386 on an x86_64 kernel, aarch64 and
// arm on an arm64 one); a call through any other ABI, x32 included, is refused whole.
import { endianness, machine } from 'node:os';
import { DENIED_SYSCALLS } from './policy.js';
import { AUDIT_ARCH, type SeccompAbi, SYSCALL_NUMBERS } from './syscall-numbers.js';

/** One sock_filter instruction (include/uapi/linux/filter.h). */
export interface Insn {
  readonly code: number;
  readonly jt: number;
  readonly jf: number;
  readonly k: number;
}

export const BPF = {
  LD_W_ABS: 0x20, // BPF_LD | BPF_W | BPF_ABS: A = seccomp_data word at offset k
  JEQ_K: 0x15, // BPF_JMP | BPF_JEQ | BPF_K
  JGE_K: 0x35, // BPF_JMP | BPF_JGE | BPF_K
  RET_K: 0x06, // BPF_RET | BPF_K
} as const;

/** Offsets in struct seccomp_data, and the actions (include/uapi/linux/seccomp.h). */
export const SECCOMP = {
  NR: 0,
  ARCH: 4,
  RET_ALLOW: 0x7fff0000,
  RET_ERRNO_EPERM: 0x00050000 | 1,
  X32_SYSCALL_BIT: 0x40000000,
} as const;

/**
 * The ABIs a kernel of this machine (uname -m) runs user code through, native first; undefined for a
 * machine the table doesn't know or a big-endian one (AUDIT_ARCH values above are the little-endian ones):
 * the caller refuses to start the unit rather than start it unconfined.
 */
export function abisOf(m: string = machine(), order: string = endianness()): SeccompAbi[] | undefined {
  if (order !== 'LE') return undefined;
  if (m === 'x86_64') return ['x86_64', 'i386'];
  if (m === 'aarch64' || m === 'arm64') return ['aarch64', 'arm'];
  if (/^armv[5-8]/.test(m)) return ['arm'];
  if (/^i[3-6]86$/.test(m)) return ['i386'];
  return undefined;
}

/** The numbers to refuse in one ABI, in DENIED_SYSCALLS order, without repeats. */
export function deniedNumbers(abi: SeccompAbi): number[] {
  return [...new Set(DENIED_SYSCALLS.flatMap((s) => SYSCALL_NUMBERS[abi][s]))];
}

const DENY = -1;
type Draft = Omit<Insn, 'jt'> & { jt: number | typeof DENY };

/**
 * The filter: load the ABI; per known ABI, if it matches, load the call's number, jump to the shared
 * EPERM return on each denied number, else allow; an ABI no section matched falls through to EPERM.
 */
export function denyProgram(abis: readonly SeccompAbi[]): Insn[] {
  const draft: Draft[] = [{ code: BPF.LD_W_ABS, jt: 0, jf: 0, k: SECCOMP.ARCH }];
  for (const abi of abis) {
    const body: Draft[] = [{ code: BPF.LD_W_ABS, jt: 0, jf: 0, k: SECCOMP.NR }];
    // x32 calls come through with the x86_64 arch value and this bit set in the number.
    if (abi === 'x86_64') body.push({ code: BPF.JGE_K, jt: DENY, jf: 0, k: SECCOMP.X32_SYSCALL_BIT });
    for (const nr of deniedNumbers(abi)) body.push({ code: BPF.JEQ_K, jt: DENY, jf: 0, k: nr });
    body.push({ code: BPF.RET_K, jt: 0, jf: 0, k: SECCOMP.RET_ALLOW });
    draft.push({ code: BPF.JEQ_K, jt: 0, jf: body.length, k: AUDIT_ARCH[abi] }, ...body);
  }
  const deny = draft.length;
  draft.push({ code: BPF.RET_K, jt: 0, jf: 0, k: SECCOMP.RET_ERRNO_EPERM });
  return draft.map((d, i) => {
    const jt = d.jt === DENY ? deny - i - 1 : d.jt;
    // Classic BPF jumps are 8-bit and forward only.
    if (jt > 255 || d.jf > 255) throw new Error('seccomp program too long for its jumps');
    return { ...d, jt };
  });
}

/** The program as the kernel reads it: struct sock_filter[] in the machine's (little-endian) order. */
export function encode(program: readonly Insn[]): Buffer {
  const b = Buffer.alloc(program.length * 8);
  program.forEach((p, i) => {
    b.writeUInt16LE(p.code, i * 8);
    b.writeUInt8(p.jt, i * 8 + 2);
    b.writeUInt8(p.jf, i * 8 + 3);
    b.writeUInt32LE(p.k >>> 0, i * 8 + 4);
  });
  return b;
}
