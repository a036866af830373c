// The parts of the engine its operations share: made once by the Engine façade, handed to each file
// that implements a group of operations (du-install, du-update, du-uninstall, recovery, ee-manager, units).
import type { EventEmitter } from 'node:events';
import type { Logger } from '../util/logger.js';
import type { AppVolumes } from './app-volumes.js';
import type { DuCgroups } from './du-cgroup.js';
import type { DuDisks } from './du-disk.js';
import type { DuStore } from './du-store.js';
import type { HostObjects } from './host-objects.js';
import type { Identities } from './identity.js';
import type { OciImages } from './image/oci-images.js';
import type { Journal } from './journal.js';
import type { Network } from './net/network.js';
import type { OpQueue } from './op-queue.js';
import type { EngineRecords } from './records.js';
import type { DownloadContext } from './staging.js';
import type { Supervisor } from './supervisor.js';
import type { DURecord, EngineEvents, EngineOptions, EURecord } from './types.js';

export interface EngineParts {
  readonly opts: EngineOptions;
  readonly log: Logger;
  readonly records: EngineRecords;
  readonly store: DuStore;
  readonly queue: OpQueue;
  readonly journal: Journal;
  readonly volumes: AppVolumes;
  readonly supervisor: Supervisor;
  readonly identity: Identities;
  readonly events: EventEmitter<EngineEvents>;
  /** Grace period before a stopping service is killed, in ms. */
  readonly grace: number;
  /** What a package download needs of the engine. */
  readonly downloads: () => DownloadContext;
  /** OCI images: the blob and layer stores shared by image DUs. */
  readonly ociImages: OciImages;
  /** Units' networking: namespaces, the bridge, the nftables ruleset. */
  readonly net: Network;
  /** Hands a unit to the supervisor: its launch and its restart policy. */
  supervise(du: DURecord, eu: EURecord): void;
  /** A stopped unit's launch worked out again (its EE's policy may have changed); its log and state stay. */
  relaunch(du: DURecord, eu: EURecord): void;
  /** The DUs' own cgroups (Resources.AllocatedMemory / AllocatedCPUPercent). */
  readonly cgroups: DuCgroups;
  /** The host paths bound into EEs for DUs (HostObject). */
  readonly hostObjects: HostObjects;
  /** The DUs' own disks (Resources.AllocatedDiskSpace): an image over each one's data directory. */
  readonly disks: DuDisks;
}
