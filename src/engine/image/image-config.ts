// The image config (Entrypoint, Cmd, Env, WorkingDir, User, ExposedPorts) as the DU's manifest: one
// service named after the DU, its command the first word made an absolute path in the image (looked
// up in the image's PATH, as a runtime would), the rest its arguments. Name from the repository's last
// component, Version from the tag (or the short digest), unless the image's annotations (or its config's
// labels) org.opencontainers.image.title / .version / .vendor / .description say otherwise and fit the
// manifest's shapes. The config is a publisher's content: refused with a message, never quoted.
import { posix } from 'node:path';
import { EngineCode, EngineError } from '../errors.js';
import type { Manifest, ServiceSpec } from '../package/manifest.js';
import { short } from './blob-store.js';
import { resolveInImage } from './image-lookup.js';
import { type ImageReference, registryHost } from './reference.js';

const bad = (why: string): never => {
  throw new EngineError(EngineCode.CorruptData, `image refused: its config ${why}`);
};

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const VENDOR = /^[A-Za-z0-9.-]{1,128}$/;
const VERSION = /^[A-Za-z0-9._+~-]{1,32}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const USER = /^[A-Za-z0-9_.-]{1,32}(?::[A-Za-z0-9_.-]{1,32})?$/;
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const strings = (v: unknown, what: string): string[] => {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) return bad(`${what} must be an array of strings`);
  return v as string[];
};

export interface ImageFacts {
  readonly reference: ImageReference | undefined;
  /** Where the image came from when it has no reference (an archive's host). */
  readonly origin: string;
  readonly manifestDigest: string;
  readonly annotations: Readonly<Record<string, string>>;
}

/** The manifest of an image DU: config JSON in, layers (top first) to find its command in. */
export function manifestOfImage(configBytes: Buffer, layersTopFirst: readonly string[], facts: ImageFacts): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(configBytes.toString('utf8'));
  } catch {
    return bad('is not JSON');
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return bad('is not a JSON object');
  const c = ((raw as { config?: unknown }).config ?? {}) as Record<string, unknown>;
  if (typeof c !== 'object' || Array.isArray(c)) bad('config must be an object');
  const labels = (c.Labels && typeof c.Labels === 'object' ? c.Labels : {}) as Record<string, unknown>;
  const said = (key: string, shape: RegExp): string | undefined => {
    const v = facts.annotations[`org.opencontainers.image.${key}`] ?? labels[`org.opencontainers.image.${key}`];
    return typeof v === 'string' && shape.test(v) ? v : undefined;
  };
  const env: Record<string, string> = {};
  for (const kv of strings(c.Env, 'Env')) {
    const eq = kv.indexOf('=');
    if (eq <= 0 || !ENV_NAME.test(kv.slice(0, eq))) bad('Env holds an entry that is not NAME=value');
    env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const argv = [...strings(c.Entrypoint, 'Entrypoint'), ...strings(c.Cmd, 'Cmd')];
  if (argv.length === 0 || !argv[0]) return bad('names no command (Entrypoint or Cmd)');
  const workingDir = typeof c.WorkingDir === 'string' && c.WorkingDir ? c.WorkingDir : undefined;
  if (workingDir !== undefined && (!workingDir.startsWith('/') || workingDir.length > 1024))
    bad('WorkingDir must be an absolute path');
  const user = typeof c.User === 'string' && c.User ? c.User : undefined;
  if (user !== undefined && !USER.test(user)) bad('User must be a user or uid, optionally :group');
  const exposed = c.ExposedPorts && typeof c.ExposedPorts === 'object' ? Object.keys(c.ExposedPorts) : [];
  if (exposed.some((p) => !/^\d{1,5}(?:\/(?:tcp|udp|sctp))?$/.test(p))) bad('ExposedPorts must be port/protocol');
  const ref = facts.reference;
  const name = said('title', NAME) ?? ref?.repository.split('/').pop() ?? 'image';
  if (!NAME.test(name)) bad('gives the image no usable name');
  const version =
    said('version', VERSION) ??
    (ref?.tag && VERSION.test(ref.tag) ? ref.tag : short(ref?.digest ?? facts.manifestDigest));
  const service: ServiceSpec = {
    name,
    command: commandPath(argv[0]!, env.PATH ?? DEFAULT_PATH, workingDir ?? '/', layersTopFirst),
    args: argv.slice(1),
    env,
    user,
    autostart: true,
    runLevel: 0,
    restart: 'on-failure',
    description: '',
    ...(workingDir ? { workingDir } : {}),
    ...(exposed.length ? { exposedPorts: exposed } : {}),
  };
  return {
    name,
    vendor: said('vendor', VENDOR) ?? (ref ? registryHost(ref) : facts.origin),
    version,
    description: (facts.annotations['org.opencontainers.image.description'] ?? '').slice(0, 256),
    services: [service],
    data: [],
  };
}

/** The command as an absolute path in the image: as given, from WorkingDir, or found on PATH as runc would. */
function commandPath(cmd: string, path: string, cwd: string, layersTopFirst: readonly string[]): string {
  if (cmd.length > 1024 || cmd.includes('\0')) return bad('names a command that is not a path');
  if (cmd.includes('/')) return posix.resolve(cwd, cmd);
  for (const dir of path.split(':').filter((d) => d.startsWith('/'))) {
    const at = posix.join(dir, cmd);
    if (resolveInImage(layersTopFirst, at)) return at;
  }
  return bad('names a command found on no directory of its PATH');
}
