// The agent's USP endpoint at the record layer: checks who a record is from and for, answers
// session-context records with a Disconnect (7106, E2E sessions are not offered), decodes the
// message, dispatches it and wraps the answer. Records that can't be parsed, are not for us or come
// from a disabled controller are dropped and logged, never answered; so are those of an unknown one,
// unless the operator admits unknown controllers (controller-admission.ts). What one controller can make
// the agent hold is bounded: requests in flight per controller (LocalAgent.X_CPE-AGENT_MaxRequestsInFlight)
// and the size of an answer (the MTP's limit, else LocalAgent.X_CPE-AGENT_MaxRecordSize); past either
// the answer is Error 7005, and an answer too large is never built whole.
import type { DataModel } from '../dm/datamodel.js';
import { BudgetExceeded, ByteBudget } from '../util/byte-budget.js';
import type { Logger } from '../util/logger.js';
import { asWork } from '../util/work.js';
import { AccessCache } from './access.js';
import {
  type DecodedMsg,
  decodeMsg,
  decodeRecord,
  encodeRecord,
  type PlainMsg,
  type UspDecodeError,
  wrapMsg,
} from './codec.js';
import type { UspContext } from './context.js';
import { admitController, admitsUnknown } from './controller-admission.js';
import { controllerByEndpoint } from './controllers.js';
import { dispatch } from './dispatch.js';
import type * as usp from './generated/usp-msg.js';

export interface Inbound {
  /** The controller's endpoint id, from the record. */
  readonly fromId: string;
  /** The record to send back, if any. */
  readonly reply: Uint8Array | undefined;
}

/** How the answer to a record goes back, given by the MTP the record came in on. */
export interface ReplyRoute {
  /** The largest record this MTP carries back (an MQTT 5 broker's Maximum Packet Size less the PUBLISH header). */
  readonly maxRecordBytes: number | undefined;
  /** The topic the sender asked to be answered on (MQTT 5 Response Topic, 3.1.1 "reply-to="). */
  readonly replyTopic?: string;
  /**
   * Sends the answer to the controller; the request keeps its place among the controller's requests in flight until
   * this settles.
   */
  send(reply: Uint8Array, to: string): Promise<unknown>;
}

const LA = 'Device.LocalAgent.';
/** Record fields around a message's body (versions, tags, lengths), besides the ids, which are counted. */
const RECORD_OVERHEAD = 64;

export class UspEndpoint {
  /** Requests being handled, by sender and msg_id: a duplicate of one is ignored. */
  private readonly inFlight = new Set<string>();
  /** Requests being handled or answered, per controller. */
  private readonly busy = new Map<string, number>();
  /** NotifyResp acknowledgements go to the subscription sender. */
  onNotifyResp: (fromId: string, msgId: string, subscriptionId: string) => void = () => {};

  constructor(
    private readonly dm: DataModel,
    private readonly log: Logger,
    readonly access: AccessCache = new AccessCache(dm),
  ) {}

  get endpointId(): string {
    return this.dm.value('Device.LocalAgent.EndpointID');
  }

  /**
   * Handles one received record; returns what to send back (nothing for dropped records). With a
   * route the answer is also sent through it, and counts against the controller until it has gone.
   */
  async receive(bytes: Uint8Array, route?: ReplyRoute): Promise<Inbound | undefined> {
    let rec: ReturnType<typeof decodeRecord>;
    try {
      rec = decodeRecord(bytes);
    } catch (e) {
      this.log.warn({ bytes: bytes.length, err: (e as Error).message }, 'dropped a record that could not be parsed');
      return undefined;
    }
    const me = this.endpointId;
    if (rec.to_id !== me) {
      this.log.warn({ to: rec.to_id, from: rec.from_id }, 'dropped a record addressed to another endpoint');
      return undefined;
    }
    if (rec.from_id === me || !rec.from_id) {
      this.log.warn({ from: rec.from_id }, 'dropped a record from our own or an empty endpoint id');
      return undefined;
    }
    // An unknown endpoint that may be admitted gets its row only for a well-formed request.
    const known = this.isKnownController(rec.from_id);
    if (!known && !this.mayAdmit(rec.from_id)) return undefined;
    if (!/^1\.\d+$/.test(rec.version)) {
      this.log.warn({ from: rec.from_id, version: rec.version }, 'dropped a record of an unsupported USP version');
      return undefined;
    }
    const version = rec.version;
    const from = rec.from_id;
    let reply: Uint8Array | undefined;
    switch (rec.record_type) {
      case 'session_context':
        if (!known) return undefined;
        reply = encodeRecord({
          version,
          to_id: from,
          from_id: me,
          disconnect: { reason: 'Session Context is not allowed by this agent', reason_code: 7106 },
        });
        await route?.send(reply, from);
        return { fromId: from, reply };
      case 'no_session_context':
        break;
      default:
        this.log.info({ from, type: rec.record_type }, 'ignored a record with no message');
        return undefined;
    }
    let msg: DecodedMsg;
    try {
      msg = decodeMsg(rec.no_session_context.payload);
    } catch (e) {
      this.log.warn({ from, err: (e as UspDecodeError).message }, 'dropped a message that could not be parsed');
      return undefined;
    }
    const request = msg.body.request;
    if (!known && (!request || !this.admit(from, route?.replyTopic))) return undefined;
    if (!request) {
      this.handleOther(from, msg);
      return undefined;
    }
    const maxRecord = Math.min(
      route?.maxRecordBytes ?? Infinity,
      Number(this.dm.value(`${LA}X_CPE-AGENT_MaxRecordSize`)),
    );
    const wrap = (answer: PlainMsg) => wrapMsg(me, from, answer, version);
    const count = this.busy.get(from) ?? 0;
    const limit = Number(this.dm.value(`${LA}X_CPE-AGENT_MaxRequestsInFlight`));
    if (count >= limit) {
      this.log.warn(
        { from, msgId: msg.header.msg_id, limit },
        'refused a request: the controller has too many in flight',
      );
      reply = wrap(
        errorMsg(
          msg.header.msg_id,
          7005,
          `resources exceeded: ${limit} requests of this controller are in progress; retry when they are answered`,
        ),
      );
      await route?.send(reply, from);
      return { fromId: from, reply };
    }
    this.busy.set(from, count + 1);
    try {
      const budget = new ByteBudget(
        maxRecord - RECORD_OVERHEAD - me.length - from.length - msg.header.msg_id.length,
        maxRecord,
      );
      const answer = await asWork(() => this.handleRequest(from, msg.header.msg_id, request, budget));
      if (!answer) return { fromId: from, reply: undefined };
      reply = wrap(answer);
      // The budget counts what a response holds as it is built; this catches what it could not foresee.
      if (reply.length > maxRecord)
        reply = wrap(errorMsg(msg.header.msg_id, 7005, new BudgetExceeded(maxRecord).message));
      await route?.send(reply, from);
      return { fromId: from, reply };
    } finally {
      const left = (this.busy.get(from) ?? 1) - 1;
      if (left > 0) this.busy.set(from, left);
      else this.busy.delete(from);
    }
  }

  /** Responses and Errors from a controller: a NotifyResp acknowledges a notification; the rest need nothing. */
  private handleOther(fromId: string, msg: DecodedMsg): void {
    const r = msg.body.response;
    if (r?.resp_type === 'notify_resp') this.onNotifyResp(fromId, msg.header.msg_id, r.notify_resp.subscription_id);
  }

  private async handleRequest(
    fromId: string,
    msgId: string,
    request: usp.Request,
    budget: ByteBudget,
  ): Promise<PlainMsg | undefined> {
    const key = `${fromId}\u0000${msgId}`;
    if (this.inFlight.has(key)) {
      this.log.info({ from: fromId, msgId }, 'ignored a duplicate of a message in progress');
      return undefined;
    }
    this.inFlight.add(key);
    try {
      const ctx: UspContext = {
        dm: this.dm,
        caller: { kind: 'usp', endpointId: fromId },
        access: this.access.of(fromId),
        budget,
      };
      const { respType, result } = await dispatch(request, ctx);
      if ('none' in result) return undefined;
      if ('error' in result) return { header: { msg_id: msgId, msg_type: 'ERROR' }, body: { error: result.error } };
      return { header: { msg_id: msgId, msg_type: respType }, body: { response: result.response } };
    } catch (e) {
      if (e instanceof BudgetExceeded) {
        this.log.warn(
          { from: fromId, msgId, limit: e.limit },
          'refused a request whose answer would be too large for the MTP',
        );
        return errorMsg(msgId, 7005, e.message);
      }
      this.log.error({ err: e, from: fromId, msgId }, 'request failed unexpectedly');
      return errorMsg(msgId, 7003, 'internal error');
    } finally {
      this.inFlight.delete(key);
    }
  }

  /** A record from a disabled controller, or an unknown one when unknown ones are not admitted, is dropped. */
  private mayAdmit(endpointId: string): boolean {
    if (controllerByEndpoint(this.dm, endpointId)) {
      this.log.warn({ from: endpointId }, 'dropped a record from a disabled controller');
      return false;
    }
    if (!admitsUnknown(this.dm)) {
      this.log.warn({ from: endpointId }, 'dropped a record from an unknown controller');
      return false;
    }
    return true;
  }

  /** An endpoint with no Controller row gets one if the operator admits unknown controllers (TP-469 2.9). */
  private admit(endpointId: string, replyTopic: string | undefined): boolean {
    const a = admitController(this.dm, endpointId, replyTopic);
    if (a.admitted) this.log.info({ from: endpointId, row: a.row }, 'admitted an unknown controller, untrusted');
    else this.log.warn({ from: endpointId, why: a.why }, 'dropped a record from an unknown controller');
    return a.admitted;
  }

  isKnownController(endpointId: string): boolean {
    return controllerByEndpoint(this.dm, endpointId)?.stored('Enable') === 'true';
  }
}

const errorMsg = (msgId: string, code: number, message: string): PlainMsg => ({
  header: { msg_id: msgId, msg_type: 'ERROR' },
  body: { error: { err_code: code, err_msg: message } },
});
