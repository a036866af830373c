// A real HTTP server on loopback serving packages from an object that tests may add to later;
// optionally slow (chunks with pauses), so that a download takes long enough to be interrupted.
import { createServer } from 'node:http';

export interface FileServer {
  url(name: string): string;
  close(): Promise<void>;
}

export async function serveFiles(
  files: Record<string, Buffer>,
  slow?: { chunkBytes: number; pauseMs: number },
): Promise<FileServer> {
  const server = createServer((req, res) => {
    const body = files[req.url!.slice(1)];
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': body.length });
    if (!slow) {
      res.end(body);
      return;
    }
    let off = 0;
    const tick = () => {
      if (off >= body.length) {
        res.end();
        return;
      }
      res.write(body.subarray(off, off + slow.chunkBytes));
      off += slow.chunkBytes;
      setTimeout(tick, slow.pauseMs);
    };
    tick();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: (name) => `http://127.0.0.1:${port}/${name}`,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
