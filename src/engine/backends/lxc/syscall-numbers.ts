// The system call numbers of DENIED_SYSCALLS per ABI, for the seccomp filter the agent loads itself
// (seccomp-bpf.ts). Where the numbers come from, Linux 6.x:
//   x86_64  arch/x86/entry/syscalls/syscall_64.tbl (the 'common' and '64' rows; x32 is refused whole)
//   i386    arch/x86/entry/syscalls/syscall_32.tbl
//   aarch64 include/uapi/asm-generic/unistd.h (arm64 uses the generic table)
//   arm     arch/arm/tools/syscall.tbl (the EABI rows: 'common' and 'eabi')
// as installed in /usr/include/x86_64-linux-gnu/asm/unistd_{64,32}.h and /usr/include/asm-generic/unistd.h
// by linux-libc-dev. A name lists every number under which the ABI provides that call: the 32-bit ABIs
// have a 64-bit-time twin of clock_settime and clock_adjtime, and i386 the old umount beside umount2.
// An empty list: the ABI has no such call, so there is nothing to refuse.
import type { DENIED_SYSCALLS } from './policy.js';

export type DeniedSyscall = (typeof DENIED_SYSCALLS)[number];

/** The ABIs the filter knows; the kernel reports which one a call came through (seccomp_data.arch). */
export type SeccompAbi = 'x86_64' | 'i386' | 'aarch64' | 'arm';

/** AUDIT_ARCH_* (include/uapi/linux/audit.h): the ELF machine, with the 64-bit and little-endian bits. */
export const AUDIT_ARCH: Readonly<Record<SeccompAbi, number>> = {
  x86_64: 0xc000003e,
  i386: 0x40000003,
  aarch64: 0xc00000b7,
  arm: 0x40000028,
};

/** prctl's own number, for the loader (the ABI of the host's userland). */
export const PRCTL: Readonly<Record<SeccompAbi, number>> = { x86_64: 157, i386: 172, aarch64: 167, arm: 172 };

type Table = Readonly<Record<DeniedSyscall, readonly number[]>>;

const x86_64: Table = {
  kexec_load: [246],
  kexec_file_load: [320],
  open_by_handle_at: [304],
  init_module: [175],
  finit_module: [313],
  delete_module: [176],
  keyctl: [250],
  add_key: [248],
  request_key: [249],
  bpf: [321],
  perf_event_open: [298],
  userfaultfd: [323],
  mount: [165],
  umount2: [166],
  pivot_root: [155],
  fsopen: [430],
  fsmount: [432],
  fsconfig: [431],
  move_mount: [429],
  open_tree: [428],
  mount_setattr: [442],
  swapon: [167],
  swapoff: [168],
  reboot: [169],
  acct: [163],
  settimeofday: [164],
  clock_settime: [227],
  clock_adjtime: [305],
  adjtimex: [159],
  iopl: [172],
  ioperm: [173],
  syslog: [103],
  quotactl: [179],
  lookup_dcookie: [212],
  uselib: [134],
  nfsservctl: [180],
};

const i386: Table = {
  kexec_load: [283],
  kexec_file_load: [],
  open_by_handle_at: [342],
  init_module: [128],
  finit_module: [350],
  delete_module: [129],
  keyctl: [288],
  add_key: [286],
  request_key: [287],
  bpf: [357],
  perf_event_open: [336],
  userfaultfd: [374],
  mount: [21],
  umount2: [52, 22],
  pivot_root: [217],
  fsopen: [430],
  fsmount: [432],
  fsconfig: [431],
  move_mount: [429],
  open_tree: [428],
  mount_setattr: [442],
  swapon: [87],
  swapoff: [115],
  reboot: [88],
  acct: [51],
  settimeofday: [79],
  clock_settime: [264, 404],
  clock_adjtime: [343, 405],
  adjtimex: [124],
  iopl: [110],
  ioperm: [101],
  syslog: [103],
  quotactl: [131],
  lookup_dcookie: [253],
  uselib: [86],
  nfsservctl: [169],
};

const aarch64: Table = {
  kexec_load: [104],
  kexec_file_load: [294],
  open_by_handle_at: [265],
  init_module: [105],
  finit_module: [273],
  delete_module: [106],
  keyctl: [219],
  add_key: [217],
  request_key: [218],
  bpf: [280],
  perf_event_open: [241],
  userfaultfd: [282],
  mount: [40],
  umount2: [39],
  pivot_root: [41],
  fsopen: [430],
  fsmount: [432],
  fsconfig: [431],
  move_mount: [429],
  open_tree: [428],
  mount_setattr: [442],
  swapon: [224],
  swapoff: [225],
  reboot: [142],
  acct: [89],
  settimeofday: [170],
  clock_settime: [112],
  clock_adjtime: [266],
  adjtimex: [171],
  iopl: [],
  ioperm: [],
  syslog: [116],
  quotactl: [60],
  lookup_dcookie: [18],
  uselib: [],
  nfsservctl: [42],
};

const arm: Table = {
  kexec_load: [347],
  kexec_file_load: [401],
  open_by_handle_at: [371],
  init_module: [128],
  finit_module: [379],
  delete_module: [129],
  keyctl: [311],
  add_key: [309],
  request_key: [310],
  bpf: [386],
  perf_event_open: [364],
  userfaultfd: [388],
  mount: [21],
  umount2: [52],
  pivot_root: [218],
  fsopen: [430],
  fsmount: [432],
  fsconfig: [431],
  move_mount: [429],
  open_tree: [428],
  mount_setattr: [442],
  swapon: [87],
  swapoff: [115],
  reboot: [88],
  acct: [51],
  settimeofday: [79],
  clock_settime: [262, 404],
  clock_adjtime: [372, 405],
  adjtimex: [124],
  iopl: [],
  ioperm: [],
  syslog: [103],
  quotactl: [131],
  lookup_dcookie: [249],
  uselib: [86],
  nfsservctl: [169],
};

export const SYSCALL_NUMBERS: Readonly<Record<SeccompAbi, Table>> = { x86_64, i386, aarch64, arm };
