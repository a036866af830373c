// X_CPE-AGENT_InsecureRegistries: the image registries (host or host:port) the operator lets the agent
// reach over plain http, as container engines' "insecure registries" do; loopback ones always may be
// (docs/oci-images.md). Every image install and update from a change on obeys the new list.

import type { DataModel } from '../../dm/datamodel.js';
import { DmError, UspError } from '../../dm/errors.js';
import type { Engine } from '../../engine/engine.js';
import { SM } from './rows.js';

const INSECURE_REGISTRIES = `${SM}X_CPE-AGENT_InsecureRegistries`;
const REGISTRY = /^[A-Za-z0-9.-]{1,253}(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$/;

const listOf = (v: string): string[] =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

export function registerInsecureRegistries(dm: DataModel): void {
  dm.param(INSECURE_REGISTRIES, {
    validate: (v) => {
      const bad = listOf(v).find((r) => !REGISTRY.test(r));
      if (bad !== undefined)
        throw new DmError(UspError.InvalidValue, 'each item must be a host or host:port', INSECURE_REGISTRIES);
    },
  });
}

/** Hands the list to the engine now and at every change; returns how to stop. */
export function followInsecureRegistries(dm: DataModel, engine: Engine): () => void {
  engine.setInsecureRegistries(listOf(dm.value(INSECURE_REGISTRIES)));
  return dm.feed.subscribe(
    INSECURE_REGISTRIES,
    (c) => {
      if (c.kind === 'value') engine.setInsecureRegistries(listOf(c.value));
    },
    ['value'],
  );
}
