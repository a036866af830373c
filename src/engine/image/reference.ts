// An OCI image reference as InstallDU and Update take it, the convention prpl LCM uses:
// docker://host[:port]/repo[:tag] or docker://host[:port]/repo@sha256:<hex> (tag latest when neither).
// The registry host is always named: there is no default registry a device would reach on its own.
import { EngineCode, EngineError } from '../errors.js';

export const DOCKER_SCHEME = 'docker://';

export interface ImageReference {
  /** host[:port] as given (an IPv6 address in brackets). */
  readonly registry: string;
  /** The repository path, e.g. "library/nginx". */
  readonly repository: string;
  /** A tag, or a digest ("sha256:<hex>"): what the manifest is asked for by. */
  readonly tag: string | undefined;
  readonly digest: string | undefined;
}

// The distribution spec's repository name grammar: lowercase components joined by '/'.
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
export const DIGEST = /^sha256:[a-f0-9]{64}$/;
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const HOST = new RegExp(`^(?:${LABEL}(?:\\.${LABEL})*|\\[[0-9A-Fa-f:.]+\\])(?::\\d{1,5})?$`);

export const isImageReference = (url: string): boolean => url.startsWith(DOCKER_SCHEME);

const bad = (why: string): never => {
  throw new EngineError(EngineCode.InvalidArguments, `image reference refused: ${why}`);
};

export function parseReference(url: string): ImageReference {
  if (!isImageReference(url)) return bad(`it must start with ${DOCKER_SCHEME}`);
  if (url.length > 1024) return bad('longer than 1024 characters');
  const rest = url.slice(DOCKER_SCHEME.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) return bad('it must name the registry host, then the repository');
  const registry = rest.slice(0, slash);
  if (registry.includes('@')) return bad('it must not carry credentials (use Username and Password)');
  if (!HOST.test(registry)) return bad('the registry is not a host name or address with an optional port');
  let path = rest.slice(slash + 1);
  let digest: string | undefined;
  let tag: string | undefined;
  const at = path.indexOf('@');
  if (at >= 0) {
    digest = path.slice(at + 1);
    path = path.slice(0, at);
    if (!DIGEST.test(digest)) return bad('the digest must be sha256: and 64 lowercase hex digits');
  }
  const colon = path.lastIndexOf(':');
  if (colon > path.lastIndexOf('/')) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
    if (!TAG.test(tag)) return bad('the tag must be 1-128 letters, digits, . _ - (not starting with . or -)');
  }
  if (path.length > 255 || !path.split('/').every((c) => COMPONENT.test(c)))
    return bad('the repository must be lowercase components (a-z 0-9 . _ -) joined by /');
  return { registry, repository: path, tag: digest ? tag : (tag ?? 'latest'), digest };
}

/** The reference as a string again (what the DU record keeps and a log shows). */
export const formatReference = (r: ImageReference): string =>
  `${DOCKER_SCHEME}${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;

/** The host without its port or brackets. */
export function registryHost(r: Pick<ImageReference, 'registry'>): string {
  const m = /^\[([^\]]+)\]|^([^:]+)/.exec(r.registry);
  return (m?.[1] ?? m?.[2] ?? r.registry).toLowerCase();
}
