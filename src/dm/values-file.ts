// The defaults format: a JSON object of full parameter path -> value (string, number or boolean).
// The defaults file and CWMP vendor configuration files are both in it.
import type { SetRequest } from './api-types.js';
import { splitParamPath } from './path.js';

/** The values of such a file, each as a string; a clear error for anything else. */
export function parseValues(text: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`not JSON: ${(e as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new Error('expected a JSON object of parameter path -> value');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
      throw new Error(`${k} must be a string, number or boolean`);
    out[k] = String(v);
  }
  return out;
}

/** Full parameter paths and values as set requests, one per object, in the order first named. */
export function setRequestsOf(values: Iterable<readonly [string, string]>): SetRequest[] {
  const byObject = new Map<string, { name: string; value: string }[]>();
  for (const [path, value] of values) {
    const [obj, name] = splitParamPath(path);
    const params = byObject.get(obj) ?? [];
    params.push({ name, value });
    byObject.set(obj, params);
  }
  return [...byObject].map(([objPath, params]) => ({ objPath, params }));
}
