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
  plugins: [mqttTransportsUnused],
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
