// The agent's USP endpoint at the record layer: checks who a record is from and for, answers
// session-context records with a Disconnect (7106, E2E sessions are not offered), decodes the
// message, dispatches it and wraps the answer. Records that can't be parsed, are not for us or come
// from an unknown controller are dropped and logged, never answered.
import type { DataModel } from '../dm/datamodel.js';
import type { Logger } from '../util/logger.js';
import { AccessCache } from './access.js';
import { decodeMsg, decodeRecord, encodeRecord, type Plain, type PlainMsg, UspDecodeError, wrapMsg } from './codec.js';
import type { UspContext } from './context.js';
import { dispatch } from './dispatch.js';
import { controllerByEndpoint } from './controllers.js';

export interface Inbound {
  /** The controller's endpoint id, from the record. */
  readonly fromId: string;
  /** The record to send back, if any. */
  readonly reply: Uint8Array | undefined;
}

export class UspEndpoint {
  private readonly inFlight = new Set<string>();
  /** NotifyResp acknowledgements go to the subscription sender. */
  onNotifyResp: (fromId: string, msgId: string, subscriptionId: string) => void = () => {};

  constructor(private readonly dm: DataModel, private readonly log: Logger, readonly access: AccessCache = new AccessCache(dm)) {}

  get endpointId(): string { return this.dm.value('Device.LocalAgent.EndpointID'); }

  /** Handles one received record; returns what to send back (nothing for dropped records). */
  async receive(bytes: Uint8Array): Promise<Inbound | undefined> {
    let rec;
    try {
      rec = decodeRecord(bytes);
    } catch (e) {
      this.log.warn({ bytes: bytes.length, err: (e as Error).message }, 'dropped a record that could not be parsed');
      return undefined;
    }
    const me = this.endpointId;
    if (rec.to_id !== me) { this.log.warn({ to: rec.to_id, from: rec.from_id }, 'dropped a record addressed to another endpoint'); return undefined; }
    if (rec.from_id === me || !rec.from_id) { this.log.warn({ from: rec.from_id }, 'dropped a record from our own or an empty endpoint id'); return undefined; }
    if (!this.isKnownController(rec.from_id)) { this.log.warn({ from: rec.from_id }, 'dropped a record from an unknown or disabled controller'); return undefined; }
    if (!/^1\.\d+$/.test(rec.version)) { this.log.warn({ from: rec.from_id, version: rec.version }, 'dropped a record of an unsupported USP version'); return undefined; }
    const version = rec.version;
    switch (rec.record_type) {
      case 'session_context':
        return {
          fromId: rec.from_id,
          reply: encodeRecord({ version, to_id: rec.from_id, from_id: me, disconnect: { reason: 'Session Context is not allowed by this agent', reason_code: 7106 } }),
        };
      case 'no_session_context': break;
      default:
        this.log.info({ from: rec.from_id, type: rec.record_type }, 'ignored a record with no message');
        return undefined;
    }
    let msg: PlainMsg;
    try {
      msg = decodeMsg(rec.no_session_context!.payload);
    } catch (e) {
      this.log.warn({ from: rec.from_id, err: (e as UspDecodeError).message }, 'dropped a message that could not be parsed');
      return undefined;
    }
    const answer = await this.handleMsg(rec.from_id, msg);
    return { fromId: rec.from_id, reply: answer && wrapMsg(me, rec.from_id, answer, version) };
  }

  private async handleMsg(fromId: string, msg: PlainMsg): Promise<PlainMsg | undefined> {
    const body = msg.body;
    const msgId = msg.header.msg_id;
    if (body.msg_body === 'response') {
      const r = body.response as Plain;
      if (r.resp_type === 'notify_resp') this.onNotifyResp(fromId, msgId, r.notify_resp?.subscription_id ?? '');
      return undefined;
    }
    if (body.msg_body !== 'request') return undefined; // an Error from a controller needs no answer
    const key = `${fromId}\u0000${msgId}`;
    if (this.inFlight.has(key)) { this.log.info({ from: fromId, msgId }, 'ignored a duplicate of a message in progress'); return undefined; }
    this.inFlight.add(key);
    try {
      const ctx: UspContext = { dm: this.dm, caller: { kind: 'usp', endpointId: fromId }, access: this.access.of(fromId) };
      const { respType, result } = await dispatch(body.request as Plain, ctx);
      if ('none' in result) return undefined;
      if ('error' in result) return { header: { msg_id: msgId, msg_type: 'ERROR' }, body: { error: result.error } };
      return { header: { msg_id: msgId, msg_type: respType }, body: { response: result.response } };
    } catch (e) {
      this.log.error({ err: e, from: fromId, msgId }, 'request failed unexpectedly');
      return { header: { msg_id: msgId, msg_type: 'ERROR' }, body: { error: { err_code: 7003, err_msg: 'internal error' } } };
    } finally {
      this.inFlight.delete(key);
    }
  }

  isKnownController(endpointId: string): boolean {
    return controllerByEndpoint(this.dm, endpointId)?.stored('Enable') === 'true';
  }
}
