// The backends this engine knows, one per kind, made once at start: the one place that names them.
// The native one is the host's, which also answers for places that have no EE.
import type { Logger } from '../../util/logger.js';
import type { IdPool } from '../ids/pool.js';
import { RESOLV_CONF } from '../net/resolv-conf.js';
import type { BackendKind } from '../types.js';
import type { Backend } from './backend.js';
import { LxcBackend } from './lxc/backend.js';
import { LxcHost } from './lxc/host.js';
import { NativeBackend } from './native/backend.js';
import { OciBackend } from './oci/backend.js';

export interface BackendSetup {
  /** A place under the engine's state directory. */
  readonly path: (...parts: string[]) => string;
  /** The operator's base root file system for containers (tar.gz). */
  readonly rootfs: string | undefined;
  readonly pool: () => IdPool;
  readonly pidsMax: number;
  readonly log: Logger;
}

export function makeBackends(s: BackendSetup) {
  const native = new NativeBackend(s.path);
  const byKind = {
    native,
    lxc: new LxcBackend(new LxcHost(s.path('lxc'), s.rootfs, s.path(RESOLV_CONF)), {
      pool: s.pool,
      pidsMax: s.pidsMax,
      log: s.log,
    }),
    oci: new OciBackend(s.path('oci'), {
      pool: s.pool,
      pidsMax: s.pidsMax,
      log: s.log,
      resolvConf: s.path(RESOLV_CONF),
    }),
  } satisfies Record<BackendKind, Backend>;
  return { byKind, host: native as Backend };
}

export type Backends = ReturnType<typeof makeBackends>;
