// A minimal controller for tests: builds request records and decodes the agent's answers.
import { randomUUID } from 'node:crypto';
import {
  type DecodedMsg,
  decodeMsg,
  decodeRecord,
  encodeRecord,
  type PlainMsg,
  type RequestBody,
  type RequestKind,
  type RequestType,
  wrapMsg,
} from '../../src/usp/codec.js';

export class ControllerSim {
  constructor(
    readonly id: string,
    readonly agentId: string,
  ) {}

  request<K extends RequestKind>(
    kind: K,
    type: RequestType<K>,
    body: RequestBody<K>,
    msgId = randomUUID(),
  ): { msgId: string; bytes: Uint8Array } {
    const msg: PlainMsg = { header: { msg_id: msgId, msg_type: type }, body: { request: { [kind]: body } } };
    return { msgId, bytes: wrapMsg(this.id, this.agentId, msg) };
  }

  static decode(bytes: Uint8Array): { record: ReturnType<typeof decodeRecord>; msg?: DecodedMsg } {
    const record = decodeRecord(bytes);
    return record.no_session_context ? { record, msg: decodeMsg(record.no_session_context.payload) } : { record };
  }

  sessionRecord(): Uint8Array {
    return encodeRecord({
      version: '1.4',
      to_id: this.agentId,
      from_id: this.id,
      session_context: { session_id: 2, sequence_id: 1, expected_id: 1, payload: [new Uint8Array([1])] },
    });
  }
}
