// Where the installed package lives and what version it is; every layer may ask.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: two levels above dist/src/util. */
export const packageRoot = fileURLToPath(new URL('../../../', import.meta.url));

export const packageVersion: string = (
  JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }
).version;

export const datamodelDir = join(packageRoot, 'datamodel');
