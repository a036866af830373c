// The seccomp profile of an OCI EE's containers, in the runtime spec's form: the same deny list as the
// LXC EEs (lxc/policy.ts), so an app is confined alike whichever class of EE it runs in.
import { arch } from 'node:process';
import { DENIED_SYSCALLS } from '../lxc/policy.js';

/** The runtime spec's seccomp architectures for this machine (the native one and its compat ABIs). */
const ARCHES: Readonly<Record<string, readonly string[]>> = {
  x64: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
  arm64: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'],
  arm: ['SCMP_ARCH_ARM'],
  ia32: ['SCMP_ARCH_X86'],
  riscv64: ['SCMP_ARCH_RISCV64'],
  mips: ['SCMP_ARCH_MIPS'],
  mipsel: ['SCMP_ARCH_MIPSEL'],
  ppc64: ['SCMP_ARCH_PPC64LE'],
  s390x: ['SCMP_ARCH_S390X', 'SCMP_ARCH_S390'],
};

export interface OciSeccomp {
  readonly defaultAction: 'SCMP_ACT_ALLOW';
  readonly architectures: readonly string[];
  readonly syscalls: readonly { names: readonly string[]; action: 'SCMP_ACT_ERRNO'; errnoRet: number }[];
}

/** Every listed call fails with EPERM (as LXC's `errno 1`); everything else is allowed. */
export function seccompOf(machine: string = arch): OciSeccomp {
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ARCHES[machine] ?? [],
    syscalls: [{ names: [...DENIED_SYSCALLS], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
  };
}
