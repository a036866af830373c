// The engine's shared types: the records it keeps (EEs, DUs, EUs, operations in flight) and the
// outcome of a DU operation. Imported by the core, the records store and the protocols' model.

import type { Logger } from '../util/logger.js';
import type { Quarantine } from '../util/quarantine.js';
import type { IdRange } from './backends/lxc/policy.js';
import type { DuSettings, UnitRestart } from './du-settings.js';
import type { EngineFaultKind, TransferFailure } from './errors.js';
import type { DownloadLimits } from './fetch.js';
import type { IdPool } from './ids/pool.js';
import type { UserIds } from './ids/users.js';
import type { ImageRecord } from './image/image-record.js';
import type { DuNetwork, NetSettings } from './net/types.js';
import type { Manifest, ServiceSpec } from './package/manifest.js';
import type { SignatureTrust } from './package/signature.js';
import type { PackageFormat } from './package/unpack.js';
import type { UnitState } from './supervisor.js';
import type { VolumeSpec } from './volumes.js';

export type { UnitRestart } from './du-settings.js';

/** The backends' kinds, as EE records keep them (the backends themselves are in backends/registry.ts). */
export const BACKEND_KINDS = ['native', 'lxc', 'oci'] as const;
export type BackendKind = (typeof BACKEND_KINDS)[number];

export interface EERecord {
  readonly id: string; // stable name of the EE ("native", "lxc-1" ...)
  name: string;
  readonly backend: BackendKind;
  /** The LXC container of an lxc EE. */
  readonly container?: string;
  enabled: boolean;
  initialRunLevel: number;
  currentRunLevel: number;
  allocatedDiskKiB: number; // -1: no limit
  allocatedMemoryKiB: number;
  allocatedCpuPercent: number;
  readonly createdAt: string;
  restartCount: number;
  lastRestarted: string;
  restartReason: string;
  /** The host ids an unprivileged container's ids map onto (absent: the native EE). */
  readonly ids?: IdRange;
  /** The operator allows privileged DUs here (TR-181 Privileged). */
  allowPrivileged?: boolean;
  /** The factory DUs' URLs (defaults file), installed once; Reset() restores them (absent: none yet). */
  factoryDUs?: readonly string[];
  /** Host interfaces its DUs may be networked through (AvailableAccessInterfaces; absent: none). */
  accessInterfaces?: string[];
  /**
   * The operator gives its units the host's network (X_CPE-AGENT_HostNetwork): in force only while
   * allowPrivileged is too (hostNetworkOf), from the EE's next start.
   */
  hostNetwork?: boolean;
}

/** Whether an EE's units share the host's network: part of its privileged policy, never on its own. */
export const hostNetworkOf = (ee: Pick<EERecord, 'hostNetwork' | 'allowPrivileged'> | undefined): boolean =>
  ee?.hostNetwork === true && ee.allowPrivileged === true;

export interface EURecord {
  readonly euid: string;
  readonly service: ServiceSpec;
  restart?: UnitRestart;
  /** What the EU should be: AutoStart decides at boot, SetRequestedState afterwards. */
  requested: 'Active' | 'Idle';
  autoStart: boolean;
  runLevel: number;
  /** The EU row's ShutdownDelay as an operator wrote it, in seconds (absent: its DU's, else the engine's). */
  shutdownDelayS?: number;
}

export interface DURecord {
  readonly duid: string;
  readonly uuid: string;
  readonly ee: string;
  readonly manifest: Manifest;
  readonly url: string;
  readonly username: string;
  readonly password: string; // kept for Update without a URL (the file is 0600)
  readonly format: PackageFormat;
  /** A mounted SquashFS image, or files unpacked (absent in older records: a SquashFS was mounted). */
  readonly layout?: 'image' | 'tree';
  readonly root: string; // unpacked package
  /** Installed with TR-181 Privileged (only where its EE's policy allowed it). */
  readonly privileged?: boolean;
  /** A native DU's own host user (its services run as it unless one names another). */
  readonly user?: UserIds;
  readonly installedAt: string;
  readonly diskKiB: number;
  eus: EURecord[];
  /** The InstallDU / Update arguments beyond the package (absent in older records: none given). */
  readonly settings?: DuSettings;
  /** A factory DU's factory URL: Reset() brings it back to that version (absent: installed later). */
  readonly factoryUrl?: string;
  /** An OCI image DU (format 'oci'): its image and layers (image/image-record.ts); absent for packages. */
  readonly image?: ImageRecord | undefined;
  /** Its NetworkConfig, applied to its units (absent: no network but loopback). Kept by Update. */
  readonly network?: DuNetwork;
}

/** An install, update or uninstall that has started and not yet been reported. */
export interface OpRecord {
  readonly id: string;
  readonly kind: 'install' | 'update' | 'uninstall';
  readonly startTime: string;
  readonly uuid: string; // may be empty until the manifest is read
  readonly duid: string | undefined; // the DU it concerns (update, uninstall, and install once known)
  readonly staging: string; // what to remove if it never completed
  readonly root?: string; // the DU's final root once known (a mount point for SquashFS)
  readonly requestTag: string; // who asked (opaque to the engine: the model's key)
  readonly volumes?: readonly string[]; // application data volumes it created (removed if it never commits)
  committed: boolean; // the engine state already reflects the operation
  /** The outcome, journalled before anyone hears it: a restart that finds it reports exactly this. */
  outcome?: DuResult;
}

export type DuOperation = 'Install' | 'Update' | 'Uninstall';

/** Why an operation failed: its kind (each protocol has its code for it), in words, and a transfer's detail. */
export interface DuFault {
  readonly code: EngineFaultKind;
  readonly message: string;
  readonly transfer?: TransferFailure;
}

export interface DuResult {
  readonly operation: DuOperation;
  readonly requestTag: string;
  readonly uuid: string;
  readonly version: string;
  readonly ee: string;
  readonly du: DURecord | undefined; // the DU after the operation (undefined once uninstalled or when install failed)
  readonly duid: string | undefined;
  readonly euids: readonly string[];
  readonly fault: DuFault | undefined;
  readonly startTime: string;
  readonly completeTime: string;
  /** Found finished (or interrupted) after a restart: whoever asked lost its request meanwhile. */
  readonly recovered?: boolean;
}

export type DuStatus = 'Installing' | 'Installed' | 'Updating' | 'Uninstalling';

export interface EngineEvents {
  /** An install, update or uninstall finished (or was found finished after a restart). */
  result: [DuResult];
  /** A DU's transitional status changed. */
  duStatus: [duid: string, status: DuStatus];
  /** An execution unit's state changed (start, stop, crash, restart ...). */
  eu: [euid: string, state: Readonly<UnitState>];
  /** An execution environment's configuration or state changed. */
  ee: [EERecord];
  /** Application data volumes were created or removed. */
  volumes: [];
}

export interface InstallRequest {
  readonly url: string;
  readonly uuid?: string;
  readonly username?: string;
  readonly password?: string;
  readonly ee: string;
  readonly requestTag: string;
  readonly signal?: AbortSignal;
  readonly progress?: (percent: number) => void;
  /** Application data volumes (absent: those the manifest declares). */
  readonly appData?: readonly VolumeSpec[];
  /** TR-181 Privileged: allowed only into an EE whose policy allows it. */
  readonly privileged?: boolean;
  /** InstallDU/Update Signature: an http(s) or data: URL of the package's detached signature (docs/signatures.md). */
  readonly signature?: string;
  /** The EE's signature policy and signer certificates, resolved by the model from ExecEnv.Signers. */
  readonly trust?: SignatureTrust;
  /** AutoRestart, Resources, ShutdownDelay, roles, HostObject, EnvVariable (absent on Update: unchanged). */
  readonly settings?: DuSettings;
  /** Installed as one of its EE's factory DUs (the defaults file's). */
  readonly factory?: boolean;
  /** TR-181 NetworkConfig (host interface names); absent: the DU's units get loopback only. */
  readonly network?: DuNetwork;
}

export type UpdateRequest = Omit<InstallRequest, 'ee' | 'url'> & {
  url?: string;
  retainData?: boolean;
  /** The EE's policy (ExecEnv.X_CPE-AGENT_AllowDowngrade); absent: a lower version may be installed. */
  allowDowngrade?: boolean;
};

export interface EngineOptions {
  readonly stateDir: string;
  readonly logger: Logger;
  readonly maxPackageBytes?: number;
  readonly maxUnpackedBytes?: number;
  /**
   * Bounds of every package download: connect (TCP and TLS), idle (no byte from the server),
   * the whole download, redirects followed; DEFAULT_DOWNLOAD_LIMITS where absent (docs/security.md, Downloads).
   */
  readonly download?: Partial<DownloadLimits>;
  /** The operator's CA (PEM file, the agent's --ca), trusted for https downloads besides the system's. */
  readonly caFile?: string;
  /** Grace period before a stopping service is killed (TR-181 ShutdownDelay). */
  readonly shutdownGraceMs?: number;
  /** The operator's base root file system for LXC EEs (tar.gz); LXC's busybox one when absent. */
  readonly lxcRootfs?: string;
  /** Host ids handed to EEs (a block each) and to native DUs (a user each). */
  readonly idPool?: IdPool;
  /** Processes one LXC EE may hold at once (cgroup pids.max). */
  readonly pidsMax?: number;
  /** Where corrupt record files are reported (the agent's, for all its state); else the engine's own. */
  readonly quarantine?: Quarantine;
  /** Image registries (host or host:port) reached over plain http besides loopback ones (docs/oci-images.md). */
  readonly insecureRegistries?: readonly string[];
  /** The agent's bridge and subnet for networked units (DEFAULT_NET where absent). */
  readonly network?: Partial<NetSettings>;
}
