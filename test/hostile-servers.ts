// Download servers that misbehave, on loopback: one that accepts connections and never says a word
// (neither HTTP nor TLS), one that sends its headers and then nothing, one that sends a byte a second,
// and one that answers with the handler a test gives (redirects, credentials checks).
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';

export interface Hostile {
  readonly origin: string;
  url(path: string): string;
  close(): Promise<void>;
}

async function listen(server: {
  listen(port: number, host: string, cb: () => void): unknown;
  address(): unknown;
}): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
}

/** Accepts, then silence: for http a request never answered, for https a TLS handshake never begun. */
export async function silentServer(scheme: 'http' | 'https' = 'http'): Promise<Hostile> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  const port = await listen(server);
  return {
    origin: `${scheme}://127.0.0.1:${port}`,
    url: (path) => `${scheme}://127.0.0.1:${port}/${path}`,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** An HTTP server answering with handler; its open responses are cut when it closes. */
export async function httpServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Hostile> {
  const server = createHttpServer(handler);
  const port = await listen(server);
  return {
    origin: `http://127.0.0.1:${port}`,
    url: (path) => `http://127.0.0.1:${port}/${path}`,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** 200 and a Content-Length of 1 MB, flushed at once, then not one byte of the body. */
export const headersThenStall = () =>
  httpServer((_req, res) => {
    res.writeHead(200, { 'content-length': 1024 * 1024 });
    res.flushHeaders();
  });

/** 200 and a Content-Length of 1 MB, then the body one byte a second: never silent for long, never done. */
export const oneBytePerSecond = () =>
  httpServer((_req, res) => {
    res.writeHead(200, { 'content-length': 1024 * 1024 });
    res.flushHeaders();
    const tick = setInterval(() => res.write('x'), 1000);
    res.on('close', () => clearInterval(tick));
  });
