// What loads the deny-list filter (seccomp-bpf.ts) into a networked unit's process chain: the host's
// perl, run as root before nsenter, with PR_SET_NO_NEW_PRIVS then PR_SET_SECCOMP through syscall(), and
// exec of the rest of the chain (a seccomp filter survives exec and is inherited by every child, and no
// process can take it off). Perl because the agent ships no C and perl is on nearly every Linux with
// LXC (perl-base is essential on Debian and its derivatives); bubblewrap's --seccomp would also do but
// brings namespaces of its own that the chain doesn't want. The loader is found on the host's file
// system by absolute path, once; no container file runs before the filter is in place.
import { accessSync, constants, statSync } from 'node:fs';
import { EngineCode, EngineError } from '../../errors.js';
import { abisOf, denyProgram, encode } from './seccomp-bpf.js';
import { PRCTL, type SeccompAbi } from './syscall-numbers.js';

const PERL_PATHS = ['/usr/bin/perl', '/bin/perl', '/usr/local/bin/perl'];

/**
 * Reads the filter (hex) and the rest of the chain from its arguments. Numbers from argv are strings,
 * which syscall() would pass as pointers: `0 +` makes prctl's number a number.
 */
const SCRIPT = [
  'my ($nr, $prog) = (0 + shift, pack("H*", shift));',
  'syscall($nr, 38, 1, 0, 0, 0) == 0 or die "cpe-agent seccomp loader: PR_SET_NO_NEW_PRIVS: $!\\n";',
  'syscall($nr, 22, 2, pack("S x![P] P", length($prog) / 8, $prog), 0, 0) == 0',
  '  or die "cpe-agent seccomp loader: PR_SET_SECCOMP: $!\\n";',
  'exec { $ARGV[0] } @ARGV;',
  'die "cpe-agent seccomp loader: exec $ARGV[0]: $!\\n";',
].join('\n');

export interface SeccompLoader {
  readonly perl: string;
  readonly prctl: number;
  /** The program, hex-encoded (sock_filter[]). */
  readonly program: string;
}

/** The loader, or what is missing for it (a fault names it: a unit is never started without the filter). */
export type LoaderCheck = { readonly loader: SeccompLoader } | { readonly missing: string };

const USERLAND: Partial<Record<string, SeccompAbi>> = { x64: 'x86_64', ia32: 'i386', arm64: 'aarch64', arm: 'arm' };

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Finds the loader and builds the program for this kernel; `perlPaths` for tests. */
export function findSeccompLoader(perlPaths: readonly string[] = PERL_PATHS): LoaderCheck {
  const abis = abisOf();
  if (!abis) return { missing: 'a seccomp system call table for this machine (x86_64, aarch64 and arm are known)' };
  const own = USERLAND[process.arch];
  if (!own) return { missing: `prctl's system call number for ${process.arch}` };
  const perl = perlPaths.find(executable);
  // Not the places looked in: the message reaches controllers, which are told no host path.
  if (!perl) return { missing: 'perl, the seccomp filter loader (not installed on the host)' };
  return { loader: { perl, prctl: PRCTL[own], program: encode(denyProgram(abis)).toString('hex') } };
}

let found: LoaderCheck | undefined;
/** The loader found once per agent process (checked at start by the backend's available()). */
export function seccompLoader(): LoaderCheck {
  found ??= findSeccompLoader();
  return found;
}

/** Refuses a networked install into an LXC EE (7022) where its units could not get the filter. */
export function requireSeccompLoader(check: LoaderCheck): asserts check is { readonly loader: SeccompLoader } {
  if ('missing' in check)
    throw new EngineError(
      EngineCode.CommandFailure,
      `NetworkConfig can not be applied in an LXC EE: its units would run without the EE's seccomp list; ` +
        `missing ${check.missing}`,
    );
}

/** argv: the loader, then `rest` (an absolute path or a name the host's PATH resolves) under the filter. */
export function underSeccomp(l: SeccompLoader, rest: readonly string[]): string[] {
  return [l.perl, '-e', SCRIPT, '--', String(l.prctl), l.program, ...rest];
}
