// `cpe-agent du`: the developer kit for deployment units. `pack` builds a package from a directory
// with a manifest, `inspect` checks a package the way the agent would before installing it, `sign` and
// `verify` make and check its detached signature (du-sign.ts).
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EngineError } from '../engine/errors.js';
import { MANIFEST_FILE, parseManifest } from '../engine/package/manifest.js';
import { unpackPackage } from '../engine/package/unpack.js';
import { duUuid } from '../engine/package/uuid.js';
import { CliError, type Command, parseOptions } from './command.js';
import { sign, verifyPackage } from './du-sign.js';

export const duCommand: Command = {
  name: 'du',
  help: `Usage: cpe-agent du pack DIR -o FILE.tar.gz|FILE.sqfs
       cpe-agent du inspect FILE [--json]
       cpe-agent du sign --key KEY.pem --cert CERT.pem PACKAGE [-o SIG] [--data-url]
       cpe-agent du verify --cert CERT.pem PACKAGE [-s SIG]

pack     checks DIR/${MANIFEST_FILE} and builds a tar.gz or SquashFS package (by the output's extension)
inspect  unpacks FILE into a temporary directory with the agent's safety checks and prints its
         manifest and DU UUID; exits 1 when the agent would refuse the package
sign     writes PACKAGE's detached signature (default PACKAGE.sig); --data-url also prints it as a
         data: URL for InstallDU's Signature argument (docs/signatures.md)
verify   checks PACKAGE against its signature with CERT as the trusted signer; exits 1 when it fails

See docs/package-format.md for the manifest.

Options:
  -o, --output FILE   the package to write (pack), the signature to write (sign)
  --key FILE          the signer's private key, PEM (sign)
  --cert FILE         the signer's certificate, PEM (sign, verify)
  -s, --signature F   the signature to check (verify)
  --data-url          print the signature as a data: URL too (sign)
  --json              print the manifest as JSON (inspect)
  -h, --help          this help`,
  async run(argv) {
    const { values, positionals } = parseOptions(
      argv,
      {
        output: { type: 'string', short: 'o' },
        json: { type: 'boolean', default: false },
        key: { type: 'string' },
        cert: { type: 'string' },
        signature: { type: 'string', short: 's' },
        'data-url': { type: 'boolean', default: false },
      },
      true,
    );
    const [action, target] = positionals;
    if (action === 'pack') return pack(target, values.output);
    if (action === 'inspect') return inspect(target, Boolean(values.json));
    if (action === 'sign') return sign(target, { ...values, dataUrl: values['data-url'] });
    if (action === 'verify') return verifyPackage(target, values);
    throw new CliError(`needs 'pack', 'inspect', 'sign' or 'verify', not '${action ?? ''}'`);
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
