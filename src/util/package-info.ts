// Where the installed package lives and what version it is; every layer may ask.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: the nearest directory above this module with a package.json (the repository for
 *  dist/src/util, dist/bundle for the bundle, which carries its own). */
export const packageRoot = findRoot(dirname(fileURLToPath(import.meta.url)));

function findRoot(dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'package.json'))) return `${d}/`;
    if (dirname(d) === d) throw new Error(`no package.json above ${dir}`);
  }
}

export const packageVersion: string = (
  JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }
).version;

export const datamodelDir = join(packageRoot, 'datamodel');
