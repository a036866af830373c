// The DU package manifest (manifest.json at the package root; docs/package-format.md): who made the
// application, its version, and its services. Validated strictly: a bad manifest is refused with a
// message naming the field and what it must be, in our words only. A value is never quoted back:
// the manifest is package content, and it may be anything (a copy of a host file, a megabyte).
import { EngineCode, EngineError } from '../errors.js';
import { checkVolumeSpec, type VolumeSpec } from '../volumes.js';

export type RestartPolicy = 'never' | 'on-failure' | 'always';

export interface ServiceSpec {
  readonly name: string;
  readonly command: string; // path inside the package root (or an absolute path in the EE)
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly user: string | undefined; // user name or uid inside the EE
  readonly autostart: boolean;
  readonly runLevel: number;
  readonly restart: RestartPolicy;
  readonly description: string;
  /** An OCI image's WorkingDir (absolute in the image); absent: the runtime's default. */
  readonly workingDir?: string;
  /** An OCI image's ExposedPorts ("80/tcp"): documentation of the image, kept for the operator. */
  readonly exposedPorts?: readonly string[];
}

export interface Manifest {
  readonly name: string;
  readonly vendor: string; // the vendor's domain name (for the DU UUID)
  readonly version: string;
  readonly description: string;
  readonly services: readonly ServiceSpec[];
  /** Application data volumes the DU wants when the installer names none (CWMP can't). */
  readonly data: readonly VolumeSpec[];
}

export const MANIFEST_FILE = 'manifest.json';
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const bad = (msg: string): never => {
  throw new EngineError(EngineCode.CorruptData, `manifest: ${msg}`);
};

/** A pattern a string field must match, and how a message says it. */
interface Shape {
  readonly pattern: RegExp;
  readonly says: string;
}

const NAME_SHAPE: Shape = {
  pattern: NAME,
  says: 'must be 1-64 letters, digits, . _ - starting with a letter or digit',
};
const VENDOR: Shape = { pattern: /^[A-Za-z0-9.-]+$/, says: 'must be a domain name (letters, digits, . -)' };
const VERSION: Shape = { pattern: /^[A-Za-z0-9._+~-]+$/, says: 'must be letters, digits and . _ + ~ -' };
const USER: Shape = { pattern: /^[a-z_][a-z0-9_-]*$|^\d+$/, says: 'must be a user name (a-z 0-9 _ -) or a number' };

const FIELDS = ['name', 'vendor', 'version', 'description', 'services', 'data'];
const SERVICE_FIELDS = ['name', 'command', 'args', 'env', 'user', 'autostart', 'runLevel', 'restart', 'description'];
const DATA_FIELDS = ['name', 'capacity', 'retain', 'accessPath'];

/** Refuses a field not in the list, without naming it (its name is package content too). */
function onlyKnown(o: Record<string, unknown>, known: readonly string[], where: string): void {
  if (Object.keys(o).some((k) => !known.includes(k)))
    bad(`unknown field${where ? ` in ${where}` : ''} (known fields: ${known.join(', ')})`);
}

function str(
  o: Record<string, unknown>,
  key: string,
  where: string,
  opts: { required?: boolean; max?: number; shape?: Shape } = {},
): string | undefined {
  const v = o[key];
  if (v === undefined) return opts.required ? bad(`${where}${key} is missing`) : undefined;
  if (typeof v !== 'string') return bad(`${where}${key} must be a string`);
  if (opts.max !== undefined && v.length > opts.max) return bad(`${where}${key} is longer than ${opts.max} characters`);
  if (opts.shape && !opts.shape.pattern.test(v)) return bad(`${where}${key} ${opts.shape.says}`);
  return v;
}

export function parseManifest(text: string): Manifest {
  let raw: unknown;
  // JSON.parse's own message quotes the text it stopped at: not for a fault.
  try {
    raw = JSON.parse(text);
  } catch {
    return bad(`${MANIFEST_FILE} is not JSON`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return bad('must be a JSON object');
  const o = raw as Record<string, unknown>;
  onlyKnown(o, FIELDS, '');
  const services = o.services ?? [];
  if (!Array.isArray(services)) return bad('services must be an array');
  if (services.length > 64) return bad('at most 64 services');
  const names = new Set<string>();
  const data = o.data ?? [];
  if (!Array.isArray(data) || data.length > 16) return bad('data must be an array of at most 16 volumes');
  return {
    name: str(o, 'name', '', { required: true, max: 64, shape: NAME_SHAPE })!,
    vendor: str(o, 'vendor', '', { required: true, max: 128, shape: VENDOR })!,
    version: str(o, 'version', '', { required: true, max: 32, shape: VERSION })!,
    description: str(o, 'description', '', { max: 256 }) ?? '',
    services: services.map((s, i) => {
      const where = `services[${i}].`;
      if (!s || typeof s !== 'object' || Array.isArray(s)) return bad(`${where.slice(0, -1)} must be an object`);
      const so = s as Record<string, unknown>;
      onlyKnown(so, SERVICE_FIELDS, where.slice(0, -1));
      const name = str(so, 'name', where, { required: true, max: 64, shape: NAME_SHAPE })!;
      if (names.has(name)) bad(`two services are named '${name}'`);
      names.add(name);
      const command = str(so, 'command', where, { required: true, max: 1024 })!;
      if (command.split('/').includes('..')) bad(`${where}command must not contain '..'`);
      const args = so.args ?? [];
      if (!Array.isArray(args) || args.some((a) => typeof a !== 'string'))
        bad(`${where}args must be an array of strings`);
      const env = so.env ?? {};
      if (
        typeof env !== 'object' ||
        env === null ||
        Array.isArray(env) ||
        Object.entries(env).some(([k, v]) => typeof v !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
      ) {
        bad(`${where}env must map variable names to strings`);
      }
      const autostart = so.autostart ?? true;
      if (typeof autostart !== 'boolean') bad(`${where}autostart must be true or false`);
      const runLevel = so.runLevel ?? 0;
      if (typeof runLevel !== 'number' || !Number.isInteger(runLevel) || runLevel < 0 || runLevel > 65535)
        bad(`${where}runLevel must be an integer 0..65535`);
      const restart = so.restart ?? 'on-failure';
      if (restart !== 'never' && restart !== 'on-failure' && restart !== 'always')
        bad(`${where}restart must be never, on-failure or always`);
      const user = so.user === undefined ? undefined : String(str(so, 'user', where, { max: 32, shape: USER }));
      return {
        name,
        command,
        args: args as string[],
        env: env as Record<string, string>,
        user,
        autostart: autostart as boolean,
        runLevel: runLevel as number,
        restart: restart as RestartPolicy,
        description: str(so, 'description', where, { max: 256 }) ?? '',
      };
    }),
    data: data.map((d, i) => {
      const where = `data[${i}].`;
      if (!d || typeof d !== 'object' || Array.isArray(d)) return bad(`data[${i}] must be an object`);
      const dobj = d as Record<string, unknown>;
      onlyKnown(dobj, DATA_FIELDS, where.slice(0, -1));
      const spec = {
        name: str(dobj, 'name', where, { required: true })!,
        capacityMiB: Number(dobj.capacity),
        retain: (str(dobj, 'retain', where) ?? 'Forever') as VolumeSpec['retain'],
        accessPath: str(dobj, 'accessPath', where, { required: true })!,
      };
      try {
        checkVolumeSpec(spec);
      } catch (e) {
        bad(`${where.slice(0, -1)}: ${(e as Error).message}`);
      }
      return spec;
    }),
  };
}
