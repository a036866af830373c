// X_CPE-AGENT_FileURLDirectory: the operator's one directory that package URLs of the file: scheme
// may lead to; '' refuses them (docs/security.md). Whoever sets it (defaults, an operator), every
// install and update from then on obeys it.

import { isAbsolute } from 'node:path';
import type { DataModel } from '../../dm/datamodel.js';
import { DmError, UspError } from '../../dm/errors.js';
import type { Engine } from '../../engine/engine.js';
import { SM } from './rows.js';

const FILE_URL_DIRECTORY = `${SM}X_CPE-AGENT_FileURLDirectory`;

export function registerFileUrlDirectory(dm: DataModel): void {
  dm.param(FILE_URL_DIRECTORY, {
    validate: (v) => {
      if (v !== '' && !isAbsolute(v))
        throw new DmError(UspError.InvalidValue, `'${v}' is not an absolute path`, FILE_URL_DIRECTORY);
    },
  });
}

/** Hands the directory to the engine now and at every change; returns how to stop. */
export function followFileUrlDirectory(dm: DataModel, engine: Engine): () => void {
  engine.setFileUrlDirectory(dm.value(FILE_URL_DIRECTORY));
  return dm.feed.subscribe(
    FILE_URL_DIRECTORY,
    (c) => {
      if (c.kind === 'value') engine.setFileUrlDirectory(c.value);
    },
    ['value'],
  );
}
