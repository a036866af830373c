// Upload's work after the session: the file the ACS asked for (a vendor configuration file: every
// writable parameter in the defaults format, which a Download of type 3 applies back; a vendor log file:
// the client's recent log) sent by HTTP PUT to its URL, and the TransferComplete that reports it kept for
// the next session. Secured values (passwords) are left out: a CWMP read never gives them either.

import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { dateTime as now } from '../util/time.js';
import type { DownloadEnv } from './download.js';
import { el } from './envelope.js';
import { CwmpFault } from './faults.js';
import { CWMP_CALLER, type UploadRequest } from './rpc/context.js';
import type { EventStruct } from './state.js';

/** File types this agent uploads (TR-069 A.4.1.5). */
export const UPLOAD_TYPES = ['1 Vendor Configuration File', '2 Vendor Log File'];

/** log: the vendor log file's text. */
export async function performUpload(req: UploadRequest, env: DownloadEnv, log: () => string): Promise<void> {
  const start = now();
  let fault = { code: 0, message: '' };
  try {
    const config = req.fileType.startsWith('1 ');
    await put(req, config ? configFile(env) : log(), config ? 'application/json' : 'text/plain', env.caFile);
  } catch (e) {
    fault = { code: e instanceof CwmpFault ? e.code : 9011, message: (e as Error).message };
    env.log.warn({ url: req.url, fault }, 'upload failed');
  }
  env.state.addPending(
    'TransferComplete',
    `<cwmp:TransferComplete>${el('CommandKey', req.commandKey)}<FaultStruct>${el('FaultCode', fault.code)}` +
      `${el('FaultString', fault.message)}</FaultStruct>${el('StartTime', start)}` +
      `${el('CompleteTime', now())}</cwmp:TransferComplete>`,
    [{ code: '7 TRANSFER COMPLETE', key: '' }, { code: 'M Upload', key: req.commandKey } as EventStruct],
  );
}

/** The writable, not secured parameters and their values, as a defaults file (JSON path -> value). */
function configFile(env: DownloadEnv): string {
  const out: Record<string, string> = {};
  env.dm.getEach('Device.', CWMP_CALLER, 0, (o) => {
    const defs = env.dm.node(o.path)?.def.params;
    for (const [k, v] of Object.entries(o.params)) {
      const d = defs?.get(k);
      if (d?.writable && !d.secured) out[o.path + k] = v;
    }
  });
  return `${JSON.stringify(out, null, 1)}\n`;
}

function put(req: UploadRequest, body: string, type: string, caFile: string | undefined): Promise<void> {
  const url = new URL(req.url);
  const https = url.protocol === 'https:';
  const auth = req.username ? `${req.username}:${req.password}` : undefined;
  return new Promise((resolve, reject) => {
    const r = (https ? httpsRequest : httpRequest)(
      url,
      {
        method: 'PUT',
        headers: { 'content-type': type, 'content-length': Buffer.byteLength(body) },
        timeout: 60_000,
        ...(auth ? { auth } : {}),
        ...(https && caFile ? { ca: readFileSync(caFile) } : {}),
      },
      (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve();
        else if (status === 401 || status === 403)
          reject(new CwmpFault(9012, `the file server refused the credentials (HTTP ${status})`));
        else reject(new CwmpFault(9011, `the file server answered HTTP ${status}`));
      },
    );
    r.on('timeout', () => r.destroy(new Error('timed out')));
    r.on('error', (e) => reject(new CwmpFault(9015, `the file server could not be reached: ${e.message}`)));
    r.end(body);
  });
}
