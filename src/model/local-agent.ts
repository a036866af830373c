// Device.LocalAgent as far as it needs no transport: identity (EndpointID by the USP rule), live
// version and uptime, and the Request table that mirrors running asynchronous operations, with
// Request.{i}.Cancel(). Controllers, subscriptions and trust are served by the USP layer.

import { agentCaller, describeCaller } from '../dm/caller.js';
import type { Change } from '../dm/change-feed.js';
import type { DataModel } from '../dm/datamodel.js';
import { DmError, UspError } from '../dm/errors.js';
import { packageVersion } from '../util/package-info.js';

const LA = 'Device.LocalAgent.';
const started = Date.now();

export function registerLocalAgent(dm: DataModel): void {
  dm.param(`${LA}SoftwareVersion`, { get: () => packageVersion });
  dm.param(`${LA}UpTime`, { get: () => String(Math.floor((Date.now() - started) / 1000)) });
  dm.param(`${LA}SupportedProtocols`, { get: () => 'MQTT' });
  dm.object(`${LA}Request.{i}.`, { volatile: true });
  trackRequests(dm);
}

/** USP R-ARC: EndpointID is "os::" OUI "-" [ProductClass "-"] SerialNumber, fixed at first start. */
export function initEndpointId(dm: DataModel): void {
  if (dm.value(`${LA}EndpointID`)) return;
  const oui = dm.value('Device.DeviceInfo.ManufacturerOUI') || '000000';
  const pc = dm.value('Device.DeviceInfo.ProductClass');
  const sn = dm.value('Device.DeviceInfo.SerialNumber') || 'unknown';
  const esc = (s: string) =>
    encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  dm.update(LA, { EndpointID: `os::${oui}-${pc ? `${esc(pc)}-` : ''}${esc(sn)}` }, 'local-agent');
}

function trackRequests(dm: DataModel): void {
  const rowOf = new Map<number, string>();
  dm.trackRequests((op) => {
    const path = dm.addInstance(
      `${LA}Request.`,
      {
        Originator: op.caller.kind === 'usp' ? op.caller.endpointId : describeCaller(op.caller),
        Command: op.path,
        CommandKey: op.commandKey,
        Status: 'Active',
      },
      'local-agent',
    );
    rowOf.set(op.id, path);
    return path;
  });
  dm.feed.subscribe(
    'Device.',
    (c: Change) => {
      if (c.kind !== 'operation') return;
      const o = c.operation;
      if (o.state !== 'complete' && o.state !== 'failed') return;
      const row = rowOf.get(o.id);
      rowOf.delete(o.id);
      // A finished request leaves the table (TR-181: the row exists while the command runs).
      if (row && dm.node(row)) dm.delete([row], agentCaller('local-agent'));
    },
    ['operation'],
  );
  dm.command(`${LA}Request.{i}.Cancel()`, (req) => {
    const id = [...rowOf].find(([, path]) => path === req.node.path)?.[0];
    if (id === undefined || !dm.operations.cancel(id))
      throw new DmError(UspError.CommandFailure, `${req.node.path} is no longer running`);
    dm.update(req.node.path, { Status: 'Canceling' }, 'local-agent');
    return {};
  });
}
