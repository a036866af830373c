// The native backend: execution units are host processes started from the unpacked DU (launcher.ts).
// It is the embedded default where LXC is absent.
import { packageVersion } from '../../../util/package-info.js';
import { dateTime as iso, UNKNOWN_TIME as UNKNOWN } from '../../../util/time.js';
import { EngineCode, EngineError } from '../../errors.js';
import { lookupUser, type UserIds } from '../../ids/users.js';
import type { Launch } from '../../supervisor.js';
import type { DURecord, EERecord, EURecord } from '../../types.js';
import type { Backend, BackendCapabilities, EERef, ExecEnvClass } from '../backend.js';
import { HOST_PASSWD, nativeLauncher } from './launcher.js';

/**
 * The engine's native backend: one EE, the host itself, always there; nothing to create, reset or
 * constrain. DUs, data, staging and volumes are under the agent's state directory; services run as
 * host users (each DU its own).
 */
export class NativeBackend implements Backend {
  readonly kind = 'native' as const;
  readonly caps: BackendCapabilities = {
    addable: false,
    writableLayer: false,
    constraints: false,
    idRange: false,
    volumeLinks: false,
    hostUsers: true,
  };
  readonly execEnvClass: ExecEnvClass = {
    name: 'Native',
    vendor: 'cpe-agent',
    version: packageVersion,
    formats: ['tar.gz', 'squashfs'],
  };

  /** path: a place under the engine's state directory. */
  constructor(private readonly path: (...parts: string[]) => string) {}

  available(): Promise<boolean> {
    return Promise.resolve(true);
  }
  defaultEE(): EERecord {
    return {
      id: 'native',
      name: 'native',
      backend: 'native',
      enabled: true,
      initialRunLevel: 0,
      currentRunLevel: 0,
      allocatedDiskKiB: -1,
      allocatedMemoryKiB: -1,
      allocatedCpuPercent: -1,
      createdAt: iso(),
      restartCount: 0,
      lastRestarted: UNKNOWN,
      restartReason: '',
    };
  }
  containerOf(): undefined {
    return undefined;
  }
  create(): Promise<void> {
    return Promise.reject(
      new EngineError(EngineCode.InvalidValue, 'the native execution environment can not be created'),
    );
  }
  prepare(): Promise<void> {
    return Promise.resolve();
  }
  start(): Promise<void> {
    return Promise.resolve();
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
  destroy(): Promise<void> {
    return Promise.resolve();
  }
  reset(): Promise<void> {
    return Promise.resolve();
  }
  running(): Promise<boolean> {
    return Promise.resolve(true);
  }
  memoryKiB(): Promise<number> {
    return Promise.resolve(-1);
  }
  growDisk(): Promise<void> {
    return Promise.resolve();
  }
  setLimits(): Promise<void> {
    return Promise.resolve();
  }
  link(): Promise<void> {
    return Promise.resolve();
  }
  unlink(): Promise<void> {
    return Promise.resolve();
  }
  userIn(_ee: EERecord, user: string): UserIds {
    const found = lookupUser(HOST_PASSWD, user);
    if (!found) throw new EngineError(EngineCode.InvalidArguments, `user '${user}' does not exist on this device`);
    return found;
  }
  duRoot(_ee: EERef, duid: string): string {
    return this.path('du', duid);
  }
  dataDir(ee: EERef, uuid: string): string {
    return this.path('data', `${ee.id}-${uuid}`);
  }
  stagingDir(_ee: EERef, id: string): string {
    return this.path('tmp', id);
  }
  volumeDir(_ee: EERef, volumeId: string): string {
    return this.path('appdata', volumeId);
  }
  sweepStaging(): void {
    /* tmp/ is emptied at start */
  }
  launch(ee: EERecord, du: DURecord, eu: EURecord, env: Record<string, string>, hostUser: () => UserIds): Launch {
    return {
      command: eu.service.command,
      args: eu.service.args,
      cwd: du.root,
      env: { ...env, CPE_DU_DATA: this.dataDir(ee, du.uuid) },
      launcher: nativeLauncher,
      ...hostUser(),
    };
  }
}
