// `cpe-agent du sign` and `du verify`: the detached signature of a package (docs/signatures.md), made
// and checked with the agent's own code, so that what verifies here verifies on the device.
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { EngineError } from '../engine/errors.js';
import { signDigest, verifyDetachedSignature } from '../engine/package/signature.js';
import { sha256File } from '../engine/signature-check.js';
import { CliError } from './command.js';

export interface SignOptions {
  readonly key?: string | undefined;
  readonly cert?: string | undefined;
  readonly output?: string | undefined;
  readonly dataUrl?: boolean | undefined;
}

/** Writes PACKAGE's signature to -o (default PACKAGE.sig); --data-url prints it as InstallDU's Signature. */
export async function sign(pkg: string | undefined, o: SignOptions): Promise<number> {
  if (!pkg || !o.key || !o.cert) throw new CliError('sign needs --key KEY.pem --cert CERT.pem PACKAGE');
  const file = resolve(pkg);
  let envelope: string;
  try {
    envelope = signDigest(await sha256File(file), readFileSync(o.key), readFileSync(o.cert));
  } catch (e) {
    throw new CliError(`can not sign ${file}: ${(e as Error).message}`);
  }
  const out = resolve(o.output ?? `${file}.sig`);
  writeFileSync(out, envelope);
  console.log(`${out}: signature of ${file}`);
  if (o.dataUrl) console.log(`data:application/json;base64,${Buffer.from(envelope).toString('base64')}`);
  return 0;
}

/** Checks PACKAGE against its signature (-s, default PACKAGE.sig) with CERT as the one trusted signer. */
export async function verifyPackage(pkg: string | undefined, o: { cert?: string; signature?: string }) {
  if (!pkg || !o.cert) throw new CliError('verify needs --cert CERT.pem PACKAGE [-s SIG]');
  const file = resolve(pkg);
  const sig = readFileSync(resolve(o.signature ?? `${file}.sig`));
  try {
    const who = verifyDetachedSignature(
      await sha256File(file),
      sig,
      { required: true, signers: [readFileSync(o.cert, 'utf8')] },
      new Date(),
    );
    console.log(`${file}: signed by ${who.subject}`);
    return 0;
  } catch (e) {
    if (!(e instanceof EngineError)) throw e;
    console.error(`${file}: ${e.message}`);
    return 1;
  }
}
