// npm run bundle: the shipped form of the agent. One minified ES module entry (dist/bundle/main.js, the
// CLI) with the protocol stacks, the embedded broker, the engine's tools and each subcommand in chunks
// of their own, read only when a run uses them (the dynamic import()s of src/ are the split points).
// Beside it what the agent reads at run time: datamodel/ and a package.json with the version (the nearest
// package.json above a module is its package root, src/util/package-info.ts). The USP schema is inside:
// src/usp/generated/descriptor.ts, made from proto/ at build time.
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;

// mqtt.js requires its WebSocket and SOCKS transports (ws, socks, ip-address ...) on every connect; the
// agent connects over TCP and TLS only (Device.MQTT.Client TransportProtocol TCP/IP, TLS), never through
// a SOCKS proxy (MQTTJS_SOCKS_PROXY must stay unset). In the bundle they are stubs that say so if asked.
const mqttTransportsUnused = {
  name: 'mqtt-transports-unused',
  setup(b) {
    b.onResolve({ filter: /^\.\/(ws|socks)$/ }, (a) =>
      a.importer.includes('/node_modules/mqtt/build/lib/connect/') ? { path: a.path, namespace: 'unused' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'unused' }, (a) => ({
      contents: `const no = () => { throw new Error('MQTT transport ${a.path} is not in this build'); };
module.exports = { default: no, streamBuilder: no, browserStreamBuilder: no };`,
      loader: 'js',
    }));
  },
};
// pino loads worker_threads when it is loaded (1.6 MB of RSS in a process that never starts a worker):
// thread-stream, for pino.transport(), which the agent never calls, and tools.js for isMainThread, read
// to decide on an exit hook for asynchronous destinations (the agent's is synchronous, on its main
// thread, the only one it logs from). In the bundle thread-stream is loaded at its first use, and
// isMainThread is what it is there.
const pinoWithoutWorkers = {
  name: 'pino-without-workers',
  setup(b) {
    const pinoLib = (importer) => importer.includes('/node_modules/pino/lib/');
    b.onResolve({ filter: /^thread-stream$/ }, (a) =>
      pinoLib(a.importer) ? { path: a.importer, namespace: 'lazy-thread-stream' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-thread-stream' }, (a) => ({
      contents: `module.exports = function ThreadStream(opts) {
  const Real = require('thread-stream/index.js');
  return new Real(opts);
};`,
      loader: 'js',
      resolveDir: a.path.slice(0, a.path.lastIndexOf('/')),
    }));
    b.onResolve({ filter: /^worker_threads$/ }, (a) =>
      pinoLib(a.importer) ? { path: 'worker_threads', namespace: 'main-thread' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'main-thread' }, () => ({
      contents: 'module.exports = { isMainThread: true };',
      loader: 'js',
    }));
  },
};
const out = join(root, 'dist', 'bundle');
rmSync(out, { recursive: true, force: true });
const result = await build({
  entryPoints: { main: join(root, 'src', 'cli', 'main.ts') },
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
  plugins: [mqttTransportsUnused, pinoWithoutWorkers],
  // protobufjs loads .proto files with a require() it finds through eval, and CommonJS packages
  // require Node's own modules: both need a require in an ES module.
  banner: {
    js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);",
  },
});
cpSync(join(root, 'datamodel'), join(out, 'datamodel'), { recursive: true });
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const shipped = { name: pkg.name, version: pkg.version, type: 'module', bin: { 'cpe-agent': 'main.js' } };
writeFileSync(join(out, 'package.json'), `${JSON.stringify(shipped, null, 2)}\n`);
writeFileSync(join(out, 'meta.json'), JSON.stringify(result.metafile));
const sizes = Object.entries(result.metafile.outputs)
  .filter(([f]) => f.endsWith('.js'))
  .map(([f, o]) => [f.slice(f.lastIndexOf('/') + 1), o.bytes]);
const total = sizes.reduce((n, [, b]) => n + b, 0);
console.log(`dist/bundle: ${sizes.length} files, ${(total / 1024).toFixed(0)} KiB of JavaScript`);
