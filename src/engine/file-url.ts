// file: URLs of packages, read only from the one directory the operator named (none by default), so
// that a controller or an ACS can not make the agent, which runs as root, read any file of the host.
// The check is on where a file really is: its name first (a refusal then says nothing about files
// elsewhere), then its real path with every link resolved, then, once open, the kernel's own name of
// the opened file, so that a link swapped in between leads nowhere.
import { constants } from 'node:fs';
import { open, readlink, realpath } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EngineCode, EngineError } from './errors.js';

export interface FileUrlOptions {
  /** Where file: URLs may lead; absent or '': nowhere. */
  readonly directory?: string | undefined;
  readonly maxBytes: number;
  readonly progress?: ((received: number, total: number | undefined) => void) | undefined;
}

const within = (path: string, dir: string): boolean => dir === sep || path === dir || path.startsWith(dir + sep);

export async function copyFileUrl(u: URL, dest: string, opts: FileUrlOptions): Promise<number> {
  if (!opts.directory)
    throw new EngineError(
      EngineCode.InvalidArguments,
      'file: URLs are refused: the operator has named no directory for them',
      'protocol',
    );
  let path: string;
  try {
    path = resolve(fileURLToPath(u));
  } catch (e) {
    throw new EngineError(EngineCode.InvalidArguments, `${u.href}: ${(e as Error).message}`, 'protocol');
  }
  const named = resolve(opts.directory);
  const dir = await realpath(named).catch(() => {
    throw new EngineError(
      EngineCode.ServerUnreachable,
      `${named}, the directory for file: URLs, does not exist`,
      'not-found',
    );
  });
  const outside = () =>
    new EngineError(
      EngineCode.InvalidArguments,
      `${path} is outside ${named}, the only directory file: URLs may lead to`,
    );
  if (!within(path, named) && !within(path, dir)) throw outside();
  const real = await realpath(path).catch(() => {
    throw new EngineError(EngineCode.ServerUnreachable, `${path} does not exist`, 'not-found');
  });
  if (!within(real, dir))
    throw new EngineError(
      EngineCode.InvalidArguments,
      `${path} leads outside ${named}, the only directory file: URLs may lead to`,
    );
  // Non-blocking: a FIFO planted there must not hang the install; its type is refused below.
  const fh = await open(
    real,
    constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY,
  ).catch(() => {
    throw new EngineError(EngineCode.ServerUnreachable, `${path} could not be opened`, 'not-found');
  });
  try {
    const opened = await readlink(`/proc/self/fd/${fh.fd}`).catch(() => real);
    if (!within(opened, dir))
      throw new EngineError(
        EngineCode.InvalidArguments,
        `${path} leads outside ${named}, the only directory file: URLs may lead to`,
      );
    const st = await fh.stat();
    if (!st.isFile()) throw new EngineError(EngineCode.ServerUnreachable, `${path} is not a file`, 'not-found');
    if (st.size > opts.maxBytes)
      throw new EngineError(
        EngineCode.ResourcesExceeded,
        `package of ${st.size} bytes exceeds the ${opts.maxBytes} byte limit`,
      );
    return await copyBounded(fh, dest, st.size, opts);
  } finally {
    await fh.close();
  }
}

/** Copies what the file holds now, refusing it if it grew past the limit since it was measured. */
async function copyBounded(
  fh: Awaited<ReturnType<typeof open>>,
  dest: string,
  size: number,
  opts: FileUrlOptions,
): Promise<number> {
  const out = await open(dest, 'w', 0o600);
  try {
    const buf = Buffer.allocUnsafe(256 * 1024);
    let copied = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, copied);
      if (bytesRead === 0) break;
      copied += bytesRead;
      if (copied > opts.maxBytes)
        throw new EngineError(EngineCode.ResourcesExceeded, `package exceeds the ${opts.maxBytes} byte limit`);
      await out.write(buf, 0, bytesRead);
      opts.progress?.(copied, size);
    }
    return copied;
  } finally {
    await out.close();
  }
}
