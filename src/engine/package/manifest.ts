// The DU package manifest (manifest.json at the package root; docs/package-format.md): who made the
// application, its version, and its services. Validated strictly: a bad manifest is refused with a
// message naming the field.
import { EngineCode, EngineError } from '../errors.js';
import { checkVolumeSpec, type VolumeSpec } from '../volumes.js';

export type RestartPolicy = 'never' | 'on-failure' | 'always';

export interface ServiceSpec {
  readonly name: string;
  readonly command: string;            // path inside the package root (or an absolute path in the EE)
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly user: string | undefined;   // user name or uid inside the EE
  readonly autostart: boolean;
  readonly runLevel: number;
  readonly restart: RestartPolicy;
  readonly description: string;
}

export interface Manifest {
  readonly name: string;
  readonly vendor: string;             // the vendor's domain name (for the DU UUID)
  readonly version: string;
  readonly description: string;
  readonly services: readonly ServiceSpec[];
  /** Application data volumes the DU wants when the installer names none (CWMP can't). */
  readonly data: readonly VolumeSpec[];
}

export const MANIFEST_FILE = 'manifest.json';
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const bad = (msg: string): never => { throw new EngineError(EngineCode.CorruptData, `manifest: ${msg}`); };

function str(o: Record<string, unknown>, key: string, where: string, opts: { required?: boolean; max?: number; pattern?: RegExp } = {}): string | undefined {
  const v = o[key];
  if (v === undefined) return opts.required ? bad(`${where}${key} is missing`) : undefined;
  if (typeof v !== 'string') return bad(`${where}${key} must be a string`);
  if (opts.max !== undefined && v.length > opts.max) return bad(`${where}${key} is longer than ${opts.max} characters`);
  if (opts.pattern && !opts.pattern.test(v)) return bad(`${where}${key} '${v}' does not match ${opts.pattern}`);
  return v;
}

export function parseManifest(text: string): Manifest {
  let raw: unknown;
  try { raw = JSON.parse(text); } catch (e) { return bad(`not JSON (${(e as Error).message})`); }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return bad('must be a JSON object');
  const o = raw as Record<string, unknown>;
  const known = new Set(['name', 'vendor', 'version', 'description', 'services', 'data']);
  for (const k of Object.keys(o)) if (!known.has(k)) bad(`unknown field '${k}'`);
  const services = o.services ?? [];
  if (!Array.isArray(services)) return bad('services must be an array');
  if (services.length > 64) return bad('at most 64 services');
  const names = new Set<string>();
  const data = o.data ?? [];
  if (!Array.isArray(data) || data.length > 16) return bad('data must be an array of at most 16 volumes');
  return {
    name: str(o, 'name', '', { required: true, pattern: NAME })!,
    vendor: str(o, 'vendor', '', { required: true, max: 128, pattern: /^[A-Za-z0-9.-]+$/ })!,
    version: str(o, 'version', '', { required: true, max: 32, pattern: /^[A-Za-z0-9._+~-]+$/ })!,
    description: str(o, 'description', '', { max: 256 }) ?? '',
    services: services.map((s, i) => {
      const where = `services[${i}].`;
      if (!s || typeof s !== 'object' || Array.isArray(s)) return bad(`${where.slice(0, -1)} must be an object`);
      const so = s as Record<string, unknown>;
      const allowed = new Set(['name', 'command', 'args', 'env', 'user', 'autostart', 'runLevel', 'restart', 'description']);
      for (const k of Object.keys(so)) if (!allowed.has(k)) bad(`unknown field '${where}${k}'`);
      const name = str(so, 'name', where, { required: true, pattern: NAME })!;
      if (names.has(name)) bad(`two services are named '${name}'`);
      names.add(name);
      const command = str(so, 'command', where, { required: true, max: 1024 })!;
      if (command.split('/').includes('..')) bad(`${where}command must not contain '..'`);
      const args = so.args ?? [];
      if (!Array.isArray(args) || args.some((a) => typeof a !== 'string')) bad(`${where}args must be an array of strings`);
      const env = so.env ?? {};
      if (typeof env !== 'object' || env === null || Array.isArray(env) || Object.entries(env).some(([k, v]) => typeof v !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))) {
        bad(`${where}env must map variable names to strings`);
      }
      const autostart = so.autostart ?? true;
      if (typeof autostart !== 'boolean') bad(`${where}autostart must be true or false`);
      const runLevel = so.runLevel ?? 0;
      if (typeof runLevel !== 'number' || !Number.isInteger(runLevel) || runLevel < 0 || runLevel > 65535) bad(`${where}runLevel must be an integer 0..65535`);
      const restart = so.restart ?? 'on-failure';
      if (restart !== 'never' && restart !== 'on-failure' && restart !== 'always') bad(`${where}restart must be never, on-failure or always`);
      const user = so.user === undefined ? undefined : String(str(so, 'user', where, { pattern: /^[a-z_][a-z0-9_-]*$|^\d+$/ }));
      return { name, command, args: args as string[], env: env as Record<string, string>, user, autostart: autostart as boolean, runLevel: runLevel as number, restart: restart as RestartPolicy, description: str(so, 'description', where, { max: 256 }) ?? '' };
    }),
    data: data.map((d, i) => {
      const where = `data[${i}].`;
      if (!d || typeof d !== 'object' || Array.isArray(d)) return bad(`data[${i}] must be an object`);
      const dobj = d as Record<string, unknown>;
      for (const k of Object.keys(dobj)) if (!['name', 'capacity', 'retain', 'accessPath'].includes(k)) bad(`unknown field '${where}${k}'`);
      const spec = { name: str(dobj, 'name', where, { required: true })!, capacityMiB: Number(dobj.capacity), retain: (str(dobj, 'retain', where) ?? 'Forever') as VolumeSpec['retain'], accessPath: str(dobj, 'accessPath', where, { required: true })! };
      try { checkVolumeSpec(spec); } catch (e) { bad(`${where.slice(0, -1)}: ${(e as Error).message}`); }
      return spec;
    }),
  };
}
