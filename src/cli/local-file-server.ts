// A local file that `ctl operate` passes as a URL (InstallDU, Update): ctl serves it to the agent
// itself, over HTTP on a loopback port of its own, for as long as the operation runs. The agent reads
// no file: URL a controller sends unless it is in the operator's directory, so the person at the
// device needs no exception, and the agent reads nothing on their behalf.
import { randomBytes } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { basename } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CliError } from './command.js';

export interface ServedFile {
  readonly url: string;
  close(): Promise<void>;
}

/** file:///abs/path, or file:relative/path from the current directory. */
export function localPathOf(fileUrl: string): string {
  try {
    return fileURLToPath(new URL(fileUrl, pathToFileURL(`${process.cwd()}/`)));
  } catch (e) {
    throw new CliError(`${fileUrl}: ${(e as Error).message}`);
  }
}

export async function serveLocalFile(path: string): Promise<ServedFile> {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new Error('not a file');
    size = st.size;
  } catch (e) {
    throw new CliError(`${path}: ${(e as Error).message}`);
  }
  // A path nobody guesses: other local programs can reach the port too.
  const name = `/${randomBytes(16).toString('hex')}/${encodeURIComponent(basename(path))}`;
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== name) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': size, 'content-type': 'application/octet-stream' });
    createReadStream(path)
      .on('error', () => res.destroy())
      .pipe(res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}${name}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
