// Whether a DU's NetworkConfig may be applied: its access interfaces and mapped interfaces are among
// its EE's AvailableAccessInterfaces, its ports are well formed, not reserved (below 1024), not
// mapped already by the agent, not in use on the host. Each refusal names the argument.
import { EngineCode, EngineError } from '../errors.js';
import type { DURecord, EERecord } from '../types.js';
import { hostPortsInUse } from './host-ports.js';
import type { DuNetwork, Protocol } from './types.js';

/** Ports below this are the host's (its services, privileged ports): never mapped. */
export const FIRST_MAPPABLE_PORT = 1024;

const refuse = (message: string) => new EngineError(EngineCode.InvalidArguments, message);
/** What an interface name may hold to be written into the ruleset as it is. */
const IFNAME = /^[A-Za-z0-9_.@-]{1,15}$/;

/** The config, checked against its EE and the DUs installed (those of `replacing`, its own DU on Update, aside). */
export function admitNetwork(
  ee: EERecord,
  net: DuNetwork,
  dus: readonly DURecord[],
  replacing?: string,
  inUse: (p: Protocol) => ReadonlySet<number> = hostPortsInUse,
): DuNetwork {
  const available = new Set((ee.accessInterfaces ?? []).filter((n) => IFNAME.test(n)));
  for (const a of net.access)
    if (!available.has(a))
      throw refuse(`NetworkConfig.AccessInterfaces: '${a}' is not among ${ee.name}'s AvailableAccessInterfaces`);
  const taken = new Set(
    dus
      .filter((d) => d.duid !== replacing)
      .flatMap((d) => d.network?.ports ?? [])
      .map((p) => `${p.iface}/${p.protocol}/${p.external}`),
  );
  const seen = new Set<string>();
  net.ports.forEach((p, i) => {
    const arg = `NetworkConfig.PortMapping.${i + 1}.`;
    if (!available.has(p.iface))
      throw refuse(`${arg}Interface: '${p.iface}' is not among ${ee.name}'s AvailableAccessInterfaces`);
    if (!Number.isInteger(p.internal) || p.internal < 1 || p.internal > 65535)
      throw refuse(`${arg}InternalPort: ${p.internal} is not a port (1-65535)`);
    if (!Number.isInteger(p.external) || p.external < FIRST_MAPPABLE_PORT || p.external > 65535)
      throw refuse(`${arg}ExternalPort: ${p.external} is reserved (ports from ${FIRST_MAPPABLE_PORT} to 65535 only)`);
    const key = `${p.iface}/${p.protocol}/${p.external}`;
    if (taken.has(key) || seen.has(key))
      throw refuse(`${arg}ExternalPort: ${p.protocol} ${p.external} on ${p.iface} is mapped already`);
    if (inUse(p.protocol).has(p.external))
      throw refuse(`${arg}ExternalPort: ${p.protocol} ${p.external} is in use on the host`);
    seen.add(key);
  });
  return net;
}
