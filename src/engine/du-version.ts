// What an Update may change a DU's version to (TR-181 SoftwareModules, USP "Update Faults"; TR-069
// ChangeDUState 9030 / 9032): not the version another DU of the same application already has in the EE
// (the same UUID twice at one version is the duplicate an install refuses), and not a lower one where the
// EE's policy forbids downgrades. The DU's own version again is allowed: a repaired package re-pushed.
import { EngineCode, EngineError } from './errors.js';
import type { DURecord } from './types.js';

/**
 * Versions ordered piece by piece (split at . - + _ ~): two numbers by value, anything else as text, a
 * missing piece lowest ("1.2" < "1.2.1"). Manifests allow any such string: this orders them all.
 */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.\-+_~]/);
  const pb = b.split(/[.\-+_~]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined || y === undefined) return x === undefined ? -1 : 1;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    const c = nx && ny ? Number(x) - Number(y) : nx !== ny ? (nx ? 1 : -1) : x < y ? -1 : x > y ? 1 : 0;
    if (c !== 0) return Math.sign(c);
  }
  return 0;
}

/** Refuses an update of `old` to `version` that would duplicate a sibling's version or downgrade against policy. */
export function admitVersion(dus: readonly DURecord[], old: DURecord, version: string, allowDowngrade: boolean): void {
  const twin = dus.find(
    (d) => d.duid !== old.duid && d.uuid === old.uuid && d.ee === old.ee && d.manifest.version === version,
  );
  if (twin)
    throw new EngineError(
      EngineCode.VersionExists,
      `${old.manifest.name} ${version} is already installed in this execution environment`,
    );
  if (!allowDowngrade && compareVersions(version, old.manifest.version) < 0)
    throw new EngineError(
      EngineCode.DowngradeRefused,
      `${old.manifest.name} ${version} is older than the installed ${old.manifest.version} and this execution ` +
        'environment does not permit downgrades',
    );
}
