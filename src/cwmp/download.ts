// Download's work after the session: fetch the file (util/download: its bounds and TLS; no file: URLs,
// an ACS must not make the agent read host files), then apply it (a vendor configuration file) or hand
// it over (a firmware image), and keep the TransferComplete that reports it for the next session.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataModel } from '../dm/datamodel.js';
import { parseValues, setRequestsOf } from '../dm/values-file.js';
import { DownloadError, download } from '../util/download.js';
import type { Logger } from '../util/logger.js';
import { dateTime as now } from '../util/time.js';
import { el } from './envelope.js';
import { CwmpFault, downloadFaultOf } from './faults.js';
import { CWMP_CALLER, type DownloadRequest } from './rpc/context.js';
import type { CwmpState, EventStruct } from './state.js';

export interface DownloadEnv {
  readonly dm: DataModel;
  readonly state: CwmpState;
  readonly log: Logger;
  /** The operator's CA (PEM file) trusted for https besides the system's. */
  readonly caFile?: string | undefined;
  /** A program given a firmware image (its path as the only argument); none: firmware downloads fail with 9010. */
  readonly firmwareCommand?: string | undefined;
}

/** Performs one Download and keeps its TransferComplete (success or the fault) for the ACS. */
export async function performDownload(req: DownloadRequest, env: DownloadEnv): Promise<void> {
  const start = now();
  const dir = mkdtempSync(join(tmpdir(), 'cpe-download-'));
  let fault = { code: 0, message: '' };
  try {
    const file = join(dir, 'file');
    await download(req.url, file, {
      ...(req.username ? { username: req.username, password: req.password } : {}),
      maxBytes: 256 * 1024 * 1024,
      caFile: env.caFile,
    });
    if (req.fileType.startsWith('3 ')) applyConfig(env.dm, readFileSync(file, 'utf8'));
    else await installFirmware(env.firmwareCommand, file);
  } catch (e) {
    const code = e instanceof DownloadError ? downloadFaultOf(e) : e instanceof CwmpFault ? e.code : 9010;
    fault = { code, message: (e as Error).message };
    env.log.warn({ url: req.url, fault }, 'download failed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  env.state.addPending(
    'TransferComplete',
    `<cwmp:TransferComplete>${el('CommandKey', req.commandKey)}<FaultStruct>${el('FaultCode', fault.code)}` +
      `${el('FaultString', fault.message)}</FaultStruct>${el('StartTime', start)}` +
      `${el('CompleteTime', now())}</cwmp:TransferComplete>`,
    [{ code: '7 TRANSFER COMPLETE', key: '' }, { code: 'M Download', key: req.commandKey } as EventStruct],
  );
}

/** A vendor configuration file: the defaults format (JSON path -> value), applied as one atomic set. */
function applyConfig(dm: DataModel, text: string): void {
  let values: Record<string, string>;
  try {
    values = parseValues(text);
  } catch (e) {
    throw new CwmpFault(9018, `the configuration file: ${(e as Error).message}`);
  }
  try {
    dm.set(setRequestsOf(Object.entries(values)), CWMP_CALLER);
  } catch (e) {
    throw new CwmpFault(9018, `the configuration was not applied: ${(e as Error).message}`);
  }
}

function installFirmware(cmd: string | undefined, file: string): Promise<void> {
  if (!cmd)
    return Promise.reject(
      new CwmpFault(9010, 'this device has no firmware installer configured (run --firmware-command)'),
    );
  return new Promise((resolve, reject) =>
    execFile(cmd, [file], { timeout: 600_000 }, (err, _o, stderr) =>
      err ? reject(new CwmpFault(9010, `${cmd} failed: ${stderr.trim().split('\n').pop() ?? err.message}`)) : resolve(),
    ),
  );
}
