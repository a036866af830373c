// The controllers of Device.LocalAgent.Controller, as every part of the USP agent looks them up.
import type { DataModel } from '../dm/datamodel.js';
import type { ObjectNode } from '../dm/tree.js';

export function controllers(dm: DataModel): ObjectNode[] {
  return [...(dm.node('Device.LocalAgent.')?.tables.get('Controller')?.rows.values() ?? [])];
}

export function controllerByEndpoint(dm: DataModel, endpointId: string): ObjectNode | undefined {
  return controllers(dm).find((row) => row.stored('EndpointID') === endpointId);
}
