// One CWMP session, CPE side: Inform -> InformResponse, then our own requests (unless the ACS holds
// them), then the empty POST, then the ACS's requests answered one by one until it sends nothing.
// An ACS fault to one of our requests costs that request, never the session.
import { randomBytes } from 'node:crypto';
import { BudgetExceeded, ByteBudget } from '../util/byte-budget.js';
import type { Logger } from '../util/logger.js';
import { dateTime } from '../util/time.js';
import {
  type CwmpNamespace,
  el,
  envelope,
  faultBody,
  HIGHEST_NS,
  type ParsedEnvelope,
  parseEnvelope,
  soapArray,
  text$,
  type Xml,
} from './envelope.js';
import { asCwmpFault, CwmpFault } from './faults.js';
import type { RpcContext } from './rpc/context.js';
import { paramDef, valueStruct } from './rpc/context.js';
import { RPCS } from './rpc/index.js';
import type { EventStruct, PendingRequest } from './state.js';
import type { AcsConnection } from './transport.js';

export interface SessionInput {
  readonly events: readonly EventStruct[];
  /** Parameters to report: the forced ones and those whose notification fired. */
  readonly parameters: readonly string[];
  readonly changed: readonly string[];
  /** Our requests the Inform's events announce: only these go out in this session. */
  readonly pending: readonly string[];
  readonly retryCount: number;
}

export interface SessionOutcome {
  readonly ns: CwmpNamespace;
  readonly requestsServed: number;
  /** Requests of ours that stay for a later session: the ACS held them (HoldRequests) or asked to retry (8005). */
  readonly deferred: boolean;
}

export class SessionFailed extends Error {}

/** A session that goes on longer than this is an ACS in a loop: it ends (and is not retried at once). */
const MAX_EXCHANGES = 100_000;
/** The envelope around an answer's body: declarations, header and ID. */
const ENVELOPE_OVERHEAD = 1024;
const MAX_ENVELOPE = 'Device.ManagementServer.X_CPE-AGENT_MaxEnvelopeSize';
/** The Inform's DeviceId: element, parameter of Device.DeviceInfo., what the CWMP schema (and an ACS) takes. */
const DEVICE_ID = [
  ['Manufacturer', 'Manufacturer', /^.{0,64}$/su, 'at most 64 characters'],
  ['OUI', 'ManufacturerOUI', /^[0-9A-F]{6}$/, '6 upper-case hex digits'],
  ['ProductClass', 'ProductClass', /^.{0,64}$/su, 'at most 64 characters'],
  ['SerialNumber', 'SerialNumber', /^.{1,64}$/su, '1 to 64 characters'],
] as const;

export class CwmpSession {
  private ns: CwmpNamespace = HIGHEST_NS;
  private hold = false;
  private served = 0;
  /** Requests the ACS answered with 8005 (retry): not again in this session. */
  private readonly retryLater = new Set<string>();

  /** The parameters' values as this session's Inform carried them. */
  private readonly sent: Record<string, string> = {};

  constructor(
    private readonly conn: AcsConnection,
    private readonly ctx: RpcContext,
    private readonly log: Logger,
    private readonly onInformed: (sent: Readonly<Record<string, string>>) => void,
  ) {}

  async run(input: SessionInput): Promise<SessionOutcome> {
    // 1. Inform; anything but an InformResponse fails the session (and is retried with back-off).
    const first = await this.exchange(this.envelopeOf(this.inform(input)));
    if (!first) throw new SessionFailed('the ACS answered the Inform with nothing');
    if (first.method === 'Fault') throw new SessionFailed(`the ACS refused the Inform: ${faultText(first.body)}`);
    if (first.method !== 'InformResponse') throw new SessionFailed(`the ACS answered the Inform with ${first.method}`);
    this.ns = first.ns;
    this.onInformed(this.sent);

    // 2. Our requests, then the empty POST; 3. the ACS's requests until it sends nothing.
    // A request that turned up after the Inform waits for a session whose Inform announces it.
    const announced = () =>
      this.ctx.state.data.pending.filter((p) => input.pending.includes(p.id) && !this.retryLater.has(p.id));
    const next = () => (this.hold ? undefined : announced()[0]);
    for (let rounds = 0; rounds < MAX_EXCHANGES; rounds++) {
      const pending = next();
      let reply = pending ? await this.sendRequest(pending) : await this.exchange('');
      if (!pending && !reply) break; // empty answer to our empty POST: done
      // Nothing to serve right after the ACS answered our request: on to the next one or the empty POST.
      let served = false;
      while (reply && reply.method !== 'Fault' && !reply.method.endsWith('Response')) {
        reply = await this.exchange(await this.answer(reply));
        served = true;
      }
      // The ACS fell silent after an answer of ours: done, unless requests of ours wait to go out.
      if (served && !reply && !next()) break;
    }
    const left = this.ctx.state.data.pending.some((p) => input.pending.includes(p.id));
    return { ns: this.ns, requestsServed: this.served, deferred: left };
  }

  /** Sends one of our requests; drops it once the ACS answered (even with a fault: it won't take it). */
  private async sendRequest(p: PendingRequest): Promise<ParsedEnvelope | undefined> {
    const reply = await this.exchange(this.envelopeOf(p.body));
    if (!reply) throw new SessionFailed(`the ACS answered ${p.method} with nothing`);
    if (reply.method === 'Fault' && faultCode(reply.body) === 8005) {
      this.log.info({ method: p.method }, 'the ACS asks to retry our request later');
      this.retryLater.add(p.id);
      return undefined;
    }
    if (reply.method === 'Fault') {
      this.log.warn({ method: p.method, fault: faultText(reply.body) }, 'the ACS refused our request; it is dropped');
      this.ctx.state.dropPending(p.id);
      return undefined;
    }
    if (reply.method === `${p.method}Response`) {
      this.ctx.state.dropPending(p.id);
      return undefined;
    }
    return reply; // an ACS request instead of the answer: served, our request is sent again later
  }

  /**
   * Answers one ACS request: the handler's response, or a SOAP fault; 9004 for an answer larger than
   * X_CPE-AGENT_MaxEnvelopeSize, which the handler stops building at the limit.
   */
  private async answer(req: ParsedEnvelope): Promise<string> {
    this.served++;
    this.log.debug({ method: req.method }, 'ACS request');
    const handler = RPCS[req.method];
    const max = Number(this.ctx.dm.value(MAX_ENVELOPE));
    const fault = (e: unknown) => {
      const f = asCwmpFault(e);
      this.log.info({ method: req.method, code: f.code, fault: f.message }, 'ACS request failed');
      return envelope(this.ns, req.id, faultBody(f));
    };
    let out: string;
    try {
      if (!handler) throw new CwmpFault(9000, `method ${req.method} is not supported`);
      out = envelope(this.ns, req.id, await handler(this.ctx, req.body, new ByteBudget(max - ENVELOPE_OVERHEAD, max)));
    } catch (e) {
      return fault(e);
    }
    // The budget counts characters; a body outside ASCII takes more bytes than that.
    return Buffer.byteLength(out) > max ? fault(new BudgetExceeded(max)) : out;
  }

  /** POSTs (an envelope or nothing); returns the ACS's envelope, or undefined for an empty answer. */
  private async exchange(out: string): Promise<ParsedEnvelope | undefined> {
    const reply = await this.conn.post(out);
    if (!reply.body.trim()) return undefined;
    let parsed: ParsedEnvelope;
    try {
      parsed = await parseEnvelope(reply.body);
    } catch (e) {
      throw new SessionFailed(`the ACS sent a broken envelope: ${(e as Error).message}`);
    }
    if (parsed.holdRequests !== this.hold) this.hold = parsed.holdRequests;
    return parsed;
  }

  private envelopeOf(body: string): string {
    return envelope(this.ns, randomBytes(6).toString('hex'), body);
  }

  private inform(input: SessionInput): string {
    const dm = this.ctx.dm;
    const id = DEVICE_ID.map(([tag, p, valid, rule]) => {
      const v = dm.value(`Device.DeviceInfo.${p}`);
      // No Inform at all rather than one the ACS must reject: the operator is told what to set.
      if (!valid.test(v))
        throw new SessionFailed(
          `Device.DeviceInfo.${p} is '${v}', the Inform's DeviceId needs ${rule}: set it in the defaults file`,
        );
      return el(tag, v);
    }).join('');
    const events = input.events.map(
      (e) => `<EventStruct>${el('EventCode', e.code)}${el('CommandKey', e.key)}</EventStruct>`,
    );
    const names = [...new Set([...input.parameters, ...input.changed])];
    const params = names.flatMap((p) => {
      let v: string;
      try {
        v = dm.value(p);
      } catch {
        return [];
      } // a changed parameter whose object is gone
      this.sent[p] = v;
      return [valueStruct(p, v, paramDef(dm, p))];
    });
    return (
      `<cwmp:Inform><DeviceId>${id}</DeviceId>${soapArray('Event', 'cwmp:EventStruct', events)}` +
      `${el('MaxEnvelopes', 1)}` +
      `${el('CurrentTime', dateTime())}${el('RetryCount', input.retryCount)}` +
      `${soapArray('ParameterList', 'cwmp:ParameterValueStruct', params)}</cwmp:Inform>`
    );
  }
}

function faultText(body: Xml): string {
  const detail = body.detail as Xml | undefined;
  const f = detail?.Fault as Xml | undefined;
  return f ? `${text$(f.FaultCode as Xml)} ${text$(f.FaultString as Xml)}` : text$(body.faultstring as Xml);
}

function faultCode(body: Xml): number {
  const f = (body.detail as Xml | undefined)?.Fault as Xml | undefined;
  return Number(text$(f?.FaultCode as Xml | undefined));
}
