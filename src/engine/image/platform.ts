// This machine as OCI names platforms (the image spec's GOOS/GOARCH values), and the choice of the
// manifest an image index holds for it. Node's process.arch uses its own names (x64, ia32 ...).
import { EngineCode, EngineError } from '../errors.js';

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string | undefined;
}

const ARCH: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  mips: 'mips',
  mipsel: 'mipsle',
  loong64: 'loong64',
};

/** The OCI platform of a node arch; 32-bit arm with the variant node was built for (v7 when it says none). */
export function platformOf(arch: string = process.arch, armVersion?: string): Platform {
  const architecture = ARCH[arch] ?? arch;
  if (architecture === 'arm') {
    const v = armVersion ?? String((process.config.variables as Record<string, unknown>).arm_version ?? '7');
    return { os: 'linux', architecture, variant: `v${v.replace(/^v/, '')}` };
  }
  return { os: 'linux', architecture };
}

export const platformName = (p: Platform): string => [p.os, p.architecture, p.variant].filter(Boolean).join('/');

/**
 * Whether an index entry's platform runs here: same os and architecture; a variant only matters when
 * both name one (arm64's v8 is the only arm64 there is), and an arm v6 image runs on v7 and v8 too.
 */
export function runsOn(entry: Platform, here: Platform): boolean {
  if (entry.os !== here.os || entry.architecture !== here.architecture) return false;
  if (!entry.variant || !here.variant || entry.variant === here.variant) return true;
  if (here.architecture !== 'arm') return false;
  return Number(entry.variant.slice(1)) <= Number(here.variant.slice(1));
}

/** The first entry (the index's order is the publisher's preference) that runs here, or a clear refusal. */
export function choosePlatform<T extends { platform?: Platform | undefined }>(
  entries: readonly T[],
  here: Platform,
): T {
  const exact = entries.find((e) => e.platform && e.platform.variant === here.variant && runsOn(e.platform, here));
  const found = exact ?? entries.find((e) => e.platform && runsOn(e.platform, here));
  if (found) return found;
  const offered = entries.map((e) => (e.platform ? platformName(e.platform) : '?')).slice(0, 8);
  throw new EngineError(
    EngineCode.ExecEnvMismatch,
    `the image has no manifest for ${platformName(here)} (it offers ${offered.join(', ') || 'none'})`,
  );
}
