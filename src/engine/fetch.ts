// Fetches a package: http and https through util/download (bounds, TLS, credentials), file URLs from
// the one directory the operator named (src/engine/file-url.ts). Failures become EngineErrors with the
// engine's kind of each failure and the transfer detail CWMP tells apart.
import { DownloadError, type DownloadFailure, type DownloadOptions, download } from '../util/download.js';
import { EngineCode, EngineError, type EngineFaultKind } from './errors.js';
import { copyFileUrl } from './file-url.js';

export { DEFAULT_DOWNLOAD_LIMITS, type DownloadLimits } from '../util/download.js';

export interface FetchOptions extends DownloadOptions {
  /** Where file: URLs may lead (links resolved); absent or '': file: URLs are refused. */
  readonly fileDirectory?: string | undefined;
}

const CODES: Record<DownloadFailure, EngineFaultKind> = {
  'bad-request': EngineCode.InvalidArguments,
  unreachable: EngineCode.ServerUnreachable,
  insecure: EngineCode.ServerInsecure,
  'too-large': EngineCode.ResourcesExceeded,
  truncated: EngineCode.CorruptData,
  canceled: EngineCode.Canceled,
};

export async function fetchPackage(url: string, dest: string, opts: FetchOptions): Promise<number> {
  const u = URL.canParse(url) ? new URL(url) : undefined;
  if (u?.protocol === 'file:' && !u.username && !u.password)
    return copyFileUrl(u, dest, { directory: opts.fileDirectory, maxBytes: opts.maxBytes, progress: opts.progress });
  if (u && !['http:', 'https:', 'file:'].includes(u.protocol))
    throw new EngineError(
      EngineCode.InvalidArguments,
      `unsupported URL scheme ${u.protocol} (http, https and file are)`,
      'protocol',
    );
  return download(url, dest, opts).catch((e: unknown) => {
    throw e instanceof DownloadError ? new EngineError(CODES[e.failure], e.message, e.transfer) : e;
  });
}
