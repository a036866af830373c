// `cpe-agent du`: the developer kit for deployment units. `pack` builds a package from a directory
// with a manifest, `inspect` checks a package the way the agent would before installing it.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EngineError } from '../engine/errors.js';
import { MANIFEST_FILE, parseManifest } from '../engine/package/manifest.js';
import { unpackPackage } from '../engine/package/unpack.js';
import { duUuid } from '../engine/package/uuid.js';
import { CliError, type Command, parseOptions } from './command.js';

export const duCommand: Command = {
  name: 'du',
  help: `Usage: cpe-agent du pack DIR -o FILE.tar.gz|FILE.sqfs
       cpe-agent du inspect FILE [--json]

pack     checks DIR/${MANIFEST_FILE} and builds a tar.gz or SquashFS package (by the output's extension)
inspect  unpacks FILE into a temporary directory with the agent's safety checks and prints its
         manifest and DU UUID; exits 1 when the agent would refuse the package

See docs/package-format.md for the manifest.

Options:
  -o, --output FILE   the package to write (pack)
  --json              print the manifest as JSON (inspect)
  -h, --help          this help`,
  async run(argv) {
    const { values, positionals } = parseOptions(
      argv,
      { output: { type: 'string', short: 'o' }, json: { type: 'boolean', default: false } },
      true,
    );
    const [action, target] = positionals;
    if (action === 'pack') return pack(target, values.output);
    if (action === 'inspect') return inspect(target, Boolean(values.json));
    throw new CliError(`needs 'pack' or 'inspect', not '${action ?? ''}'`);
  },
};

async function pack(dir: string | undefined, output: string | undefined): Promise<number> {
  if (!dir || !output) throw new CliError('pack needs DIR and -o FILE');
  const src = resolve(dir);
  if (!existsSync(join(src, MANIFEST_FILE))) throw new CliError(`${src} has no ${MANIFEST_FILE}`);
  const manifest = parseManifest(readFileSync(join(src, MANIFEST_FILE), 'utf8'));
  for (const s of manifest.services) {
    if (!s.command.startsWith('/') && !existsSync(join(src, s.command)))
      throw new CliError(`service '${s.name}': ${s.command} is not in ${src}`);
  }
  const out = resolve(output);
  // Loaded here: only pack runs tools, and the other commands (run above all) must not load execa.
  const { execa } = await import('execa');
  if (/\.(tar\.gz|tgz)$/.test(out)) await execa('tar', ['-czf', out, '--owner=0', '--group=0', '-C', src, '.']);
  else if (/\.(sqfs|squashfs)$/.test(out)) await execa('mksquashfs', [src, out, '-all-root', '-noappend', '-quiet']);
  else throw new CliError('the output must end in .tar.gz, .tgz, .sqfs or .squashfs');
  console.log(
    `${out}: ${manifest.name} ${manifest.version} from ${manifest.vendor}, ${manifest.services.length} ` +
      `service(s), ${statSync(out).size} bytes, UUID ${duUuid(manifest.name, manifest.vendor)}`,
  );
  return 0;
}

async function inspect(file: string | undefined, json: boolean): Promise<number> {
  if (!file) throw new CliError('inspect needs a FILE');
  const tmp = mkdtempSync(join(tmpdir(), 'cpe-du-inspect-'));
  try {
    const { manifest, format, bytes } = await unpackPackage(resolve(file), tmp, {
      maxBytes: 1024 ** 3,
      maxEntries: 100_000,
    });
    if (json) {
      console.log(JSON.stringify({ format, bytes, uuid: duUuid(manifest.name, manifest.vendor), manifest }, null, 1));
      return 0;
    }
    console.log(`format      ${format}, ${bytes} bytes unpacked`);
    console.log(
      `name        ${manifest.name}\nvendor      ${manifest.vendor}\nversion     ${manifest.version}\nuuid        ` +
        `${duUuid(manifest.name, manifest.vendor)}`,
    );
    if (manifest.description) console.log(`description ${manifest.description}`);
    for (const s of manifest.services)
      console.log(
        `service     ${s.name}: ${[s.command, ...s.args].join(' ')} (autostart ${s.autostart}, run level ` +
          `${s.runLevel}, restart ${s.restart})`,
      );
    return 0;
  } catch (e) {
    // The developer's own package on their own machine: the detail (which entry, what a tool said) helps.
    const detail = e instanceof EngineError && e.detail ? ` (${e.detail})` : '';
    console.error(`${file}: ${(e as Error).message}${detail}`);
    return 1;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
