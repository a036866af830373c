// A tiny static C program shipped inside hostile test DUs, for what busybox can not do: it makes the
// system calls an EE's seccomp profile and capability set must refuse and prints one line per call
// ("<syscall> <ERRNO name>" or "<syscall> ok"), and, as `probe ids`, prints its real, effective and
// saved uids (a set-uid copy of it shows whether exec gained privileges; busybox drops set-uid by
// itself for most applets, so it can not show that), and, as `probe swap DIR TARGET`, fills DIR with
// directories and keeps swapping each for a link to TARGET from a detached process for 30 s (a race
// against anyone removing DIR recursively).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { missing, requireTool } from '../helpers.js';

const SOURCE = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/syscall.h>

static const char *errname(int e) {
  switch (e) {
    case EPERM: return "EPERM"; case EACCES: return "EACCES"; case ENOSYS: return "ENOSYS";
    case EINVAL: return "EINVAL"; case EFAULT: return "EFAULT"; case EBADF: return "EBADF";
    case ENOENT: return "ENOENT"; case EOPNOTSUPP: return "EOPNOTSUPP"; case ENOKEY: return "ENOKEY";
    case EEXIST: return "EEXIST"; case ENOEXEC: return "ENOEXEC"; case EBUSY: return "EBUSY";
    case E2BIG: return "E2BIG"; case ESTALE: return "ESTALE"; case ENOTDIR: return "ENOTDIR";
    default: { static char b[32]; snprintf(b, sizeof b, "errno%d", e); return b; }
  }
}

static void report(const char *name, long r) {
  if (r < 0) printf("SYSCALL %s %s\n", name, errname(errno));
  else printf("SYSCALL %s ok\n", name);
  fflush(stdout);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "ids") == 0) {
    uid_t r, e, s;
    getresuid(&r, &e, &s);
    printf("IDS %u %u %u\n", (unsigned)r, (unsigned)e, (unsigned)s);
    return 0;
  }
  if (argc > 3 && strcmp(argv[1], "swap") == 0) {
    const char *dir = argv[2], *target = argv[3];
    char p[512], q[520], f[540];
    enum { DIRS = 64, FILES = 20 };
    for (int i = 0; i < DIRS; i++) {
      snprintf(p, sizeof p, "%s/d%d", dir, i); mkdir(p, 0755);
      for (int j = 0; j < FILES; j++) {
        snprintf(f, sizeof f, "%s/f%d", p, j); close(open(f, O_CREAT | O_WRONLY, 0644));
      }
    }
    printf("SWAPPER started\n"); fflush(stdout);
    if (fork() > 0) return 0;
    setsid(); signal(SIGTERM, SIG_IGN); signal(SIGHUP, SIG_IGN);
    if (fork() > 0) return 0;
    close(0); close(1); close(2);
    time_t end = time(NULL) + 30;
    for (long k = 0; time(NULL) < end; k++) {
      int i = (int)(k % DIRS);
      snprintf(p, sizeof p, "%s/d%d", dir, i); snprintf(q, sizeof q, "%s/x%d", dir, i);
      if (rename(p, q) == 0) { symlink(target, p); usleep(1); unlink(p); rename(q, p); }
    }
    return 0;
  }
  static char zero[4096];
  /* Arguments are ones a kernel without the EE's seccomp profile could act on (or fail on with
     something other than EPERM), so EPERM is the profile or the dropped capability speaking. */
#ifdef SYS_init_module
  report("init_module", syscall(SYS_init_module, zero, sizeof zero, ""));
#endif
#ifdef SYS_finit_module
  { int fd = open("/dev/null", O_RDONLY); report("finit_module", syscall(SYS_finit_module, fd, "", 0)); close(fd); }
#endif
#ifdef SYS_delete_module
  report("delete_module", syscall(SYS_delete_module, "cpe_no_such_module", O_NONBLOCK));
#endif
#ifdef SYS_kexec_load
  report("kexec_load", syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0UL));
#endif
#ifdef SYS_keyctl
  /* KEYCTL_GET_KEYRING_ID of the session keyring: any process may, unless seccomp refuses. */
  report("keyctl", syscall(SYS_keyctl, 0, -3, 1));
#endif
#ifdef SYS_add_key
  report("add_key", syscall(SYS_add_key, "user", "cpe-probe", "x", 1, -2));
#endif
#ifdef SYS_request_key
  report("request_key", syscall(SYS_request_key, "user", "cpe-probe", NULL, 0));
#endif
#ifdef SYS_bpf
  { /* BPF_MAP_CREATE of a 1-entry array map */
    unsigned int attr[32]; memset(attr, 0, sizeof attr);
    attr[0] = 2; attr[1] = 4; attr[2] = 4; attr[3] = 1;
    report("bpf", syscall(SYS_bpf, 0, attr, sizeof attr)); }
#endif
#ifdef SYS_perf_event_open
  { /* a software cpu-clock counter on this process */
    unsigned char attr[128]; memset(attr, 0, sizeof attr);
    unsigned int type = 1, size = sizeof attr;
    memcpy(attr, &type, 4); memcpy(attr + 4, &size, 4);
    report("perf_event_open", syscall(SYS_perf_event_open, attr, 0, -1, -1, 0)); }
#endif
#ifdef SYS_userfaultfd
  /* O_CLOEXEC | UFFD_USER_MODE_ONLY: allowed to anyone on a kernel without the profile */
  report("userfaultfd", syscall(SYS_userfaultfd, O_CLOEXEC | 1));
#endif
#ifdef SYS_open_by_handle_at
  { struct { unsigned int bytes; int type; unsigned char h[128]; } fh; int mnt;
    fh.bytes = 128;
    long n = syscall(SYS_name_to_handle_at, AT_FDCWD, "/", &fh, &mnt, 0);
    if (n < 0) { fh.bytes = 8; fh.type = 1; memset(fh.h, 0, sizeof fh.h); }
    int dir = open("/", O_RDONLY | O_DIRECTORY);
    report("open_by_handle_at", syscall(SYS_open_by_handle_at, dir, &fh, O_RDONLY)); close(dir); }
#endif
#ifdef SYS_mount
  report("mount", syscall(SYS_mount, "none", "/mnt", "tmpfs", 0UL, NULL));
#endif
#ifdef SYS_umount2
  report("umount2", syscall(SYS_umount2, "/mnt", 0));
#endif
  printf("PROBE-DONE\n");
  return 0;
}
`;

/**
 * Compiles the probe (gcc -static) into dir; skips loudly without gcc, except in CI, which must run
 * these tests. Returns the binary's path, or undefined when the test was skipped.
 */
export function buildProbe(t: TestContext, dir: string): string | undefined {
  const src = join(dir, 'probe.c');
  const out = join(dir, 'probe');
  if (!requireTool(t, 'gcc')) return undefined;
  writeFileSync(src, SOURCE);
  try {
    execFileSync('gcc', ['-static', '-O1', '-o', out, src], { stdio: 'pipe' });
  } catch (e) {
    missing(t, `gcc -static could not build the syscall probe (apt-get install libc6-dev): ${(e as Error).message}`);
    return undefined;
  }
  return out;
}
