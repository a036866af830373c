// What the engine's core asks of a backend: an execution environment's life (prepare after a boot,
// start, stop, destroy, reset, limits), where its DUs, their data, staging and volumes live on the
// host, how a unit is launched, and whose users its services run as. A backend declares what it can
// do in its capabilities; the core asks those (or calls the interface), never a backend's name.
// A record keeps its backend's kind as data, to find its backend again after a restart.

import type { UserIds } from '../ids/users.js';
import type { PackageFormat } from '../package/unpack.js';
import type { Launch } from '../supervisor.js';
import type { BackendKind, DURecord, EERecord, EURecord } from '../types.js';

/** An EE as a backend needs to know it: its id and, for a container, its name (a record, or just an id). */
export type EERef = Pick<EERecord, 'id' | 'container'>;

export interface BackendCapabilities {
  /** EEs of this kind are made by AddExecEnv() and taken by Remove(). */
  readonly addable: boolean;
  /** Its EEs have a writable layer that Reset() wipes. */
  readonly writableLayer: boolean;
  /** Its EEs have memory, CPU and disk constraints (ModifyConstraints(), memory in use). */
  readonly constraints: boolean;
  /**
   * Its EEs run on their own subordinate id range (unprivileged; absent from a record: made privileged by an older
   * agent).
   */
  readonly idRange: boolean;
  /** Services reach volumes at their AccessPath through links the backend makes in the EE. */
  readonly volumeLinks: boolean;
  /** Services run as host users (each DU has its own unless a service names another); else as the EE's users. */
  readonly hostUsers: boolean;
  /** Its EEs give units a network of their own (a container's, loopback only); absent: the agent isolates them. */
  readonly ownNetwork?: boolean;
}

/** The TR-181 ExecEnvClass a backend's EEs belong to: what the model shows of it. */
export interface ExecEnvClass {
  /** Name and ExecEnv.Type ('LXC', 'Native'). */
  readonly name: string;
  readonly vendor: string;
  readonly version: string;
  /** The package formats its EEs accept ('oci': OCI images, a registry reference or an oci-archive). */
  readonly formats: readonly (PackageFormat | 'oci')[];
}

export interface Backend {
  readonly kind: BackendKind;
  readonly caps: BackendCapabilities;
  readonly execEnvClass: ExecEnvClass;
  /** Whether it works on this machine (its tools are here); sets up what it needs once found. */
  available(): Promise<boolean>;
  /** The EE that exists wherever this backend does (the native host), if any. */
  defaultEE(): EERecord | undefined;
  /** The container name a new EE of this kind gets (undefined: none). */
  containerOf(id: string): string | undefined;
  /** Makes a new EE (its record given, not yet saved). */
  create(ee: EERecord): Promise<void>;
  /** After a device reboot: mounts the EE's storage. */
  prepare(ee: EERecord): Promise<void>;
  start(ee: EERecord): Promise<void>;
  stop(ee: EERecord): Promise<void>;
  destroy(ee: EERecord): Promise<void>;
  reset(ee: EERecord): Promise<void>;
  running(ee: EERecord): Promise<boolean>;
  memoryKiB(ee: EERecord): Promise<number>;
  growDisk(ee: EERecord, diskKiB: number): Promise<void>;
  setLimits(ee: EERecord, limits: { memoryKiB: number; cpuPercent: number }): Promise<void>;
  /** Gives a volume its AccessPath (target) in the EE, and takes it back. */
  link(ee: EERecord, volumeId: string, target: string): Promise<void>;
  unlink(ee: EERecord, target: string): Promise<void>;
  /**
   * A user as the EE knows it (its own passwd, or the host's; an OCI EE's from the DU's image, so a name is
   * checked only once the DU is given); throws when there is none.
   */
  userIn(ee: EERecord, user: string, du?: DURecord): UserIds;
  /** Host places: a DU's root, its data directory, an operation's staging, a volume's mount point. */
  duRoot(ee: EERef, duid: string): string;
  dataDir(ee: EERef, uuid: string): string;
  stagingDir(ee: EERef, id: string): string;
  volumeDir(ee: EERef, volumeId: string): string;
  /** At start: staging left by a crash is removed. */
  sweepStaging(ee: EERecord): void;
  /** How a unit starts: env is what the core gives it; hostUser the host ids it runs with. */
  launch(ee: EERecord, du: DURecord, eu: EURecord, env: Record<string, string>, hostUser: () => UserIds): Launch;
  /** Where the DUs' own disk images live inside the EE's disk (absent: the EE has none; the engine's place). */
  disksDir?(ee: EERef): string;
  /** Throws (a fault saying what to do) when a DU's own disk mounted now would not reach the EE's running units. */
  admitDataDisk?(ee: EERecord): Promise<void>;
  /** Throws (a fault naming what is missing) when this host can't start a networked unit confined. */
  admitNetwork?(): void;
  /** A DU's units have stopped for good (uninstall) or for new files (update): what the backend kept for it goes. */
  release?(ee: EERecord, du: DURecord): Promise<void>;
}
