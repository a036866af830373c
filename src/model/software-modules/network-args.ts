// InstallDU's NetworkConfig arguments: AccessInterfaces (references to Device.IP.Interface rows) and
// NetworkConfig.PortMapping.{i}. (Interface, ExternalPort, InternalPort, Protocol), turned into the
// engine's terms (host interface names). A reference that names no interface row, or one that is not
// among the EE's AvailableAccessInterfaces, is refused here with 7027 naming the argument; whether a
// port is free is the engine's to decide, at its commit.
import { argRows } from '../../dm/command-args.js';
import { DmError, UspError } from '../../dm/errors.js';
import type { DuNetwork, PortMapping, Protocol } from '../../engine/net/types.js';
import type { EERecord } from '../../engine/records.js';
import type { IpInterfaces } from '../ip-interface.js';

const bad = (message: string) => new DmError(UspError.InvalidCommandArguments, message);
const PREFIX = 'NetworkConfig.';

/** `{ network }` for the engine's InstallRequest, or `{}` when the caller gave no NetworkConfig. */
export function networkArgs(
  input: Readonly<Record<string, string>>,
  ips: IpInterfaces,
  ee: EERecord,
): { network?: DuNetwork } {
  const given = Object.keys(input).some((k) => k.startsWith(PREFIX));
  if (!given) return {};
  ips.refresh();
  const available = new Set(ee.accessInterfaces ?? []);
  const resolve = (arg: string, reference: string): string => {
    const name = ips.nameOf(reference.trim());
    if (name === undefined) throw bad(`${arg}: '${reference}' is not a Device.IP.Interface row`);
    if (!available.has(name))
      throw bad(`${arg}: '${reference}' (${name}) is not among ${ee.name}'s AvailableAccessInterfaces`);
    return name;
  };
  const listed = (input[`${PREFIX}AccessInterfaces`] ?? '').split(',').filter((r) => r.trim());
  const access = [...new Set(listed.map((r) => resolve(`${PREFIX}AccessInterfaces`, r)))];
  const ports: PortMapping[] = [...argRows(input, `${PREFIX}PortMapping.`).entries()].map(([i, r]) => {
    const arg = `${PREFIX}PortMapping.${i}.`;
    for (const k of ['Interface', 'ExternalPort', 'InternalPort']) if (!r[k]) throw bad(`${arg}${k} is missing`);
    const protocol = (r.Protocol || 'TCP').toUpperCase();
    if (protocol !== 'TCP' && protocol !== 'UDP') throw bad(`${arg}Protocol: '${r.Protocol}' is not TCP or UDP`);
    return {
      iface: resolve(`${arg}Interface`, r.Interface!),
      external: Number(r.ExternalPort),
      internal: Number(r.InternalPort),
      protocol: protocol as Protocol,
    };
  });
  return { network: { access, ports } };
}
