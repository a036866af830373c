// USP Record and Message encoding with protobufjs, from our proto/ files. Decoding is bounded
// (a record larger than the limit is refused unread) and never throws anything but UspDecodeError.

// light: reflection without the .proto parser; the build turned proto/ into a JSON descriptor.
import protobuf from 'protobufjs/light.js';
import { descriptor } from './generated/descriptor.js';
import type * as usp from './generated/usp-msg.js';
import type * as usp_record from './generated/usp-record.js';

// The field names are those of the wire format (to_id, msg_id ...): the descriptor was read with keepCase.
const root = protobuf.Root.fromJSON(descriptor);
const RecordType = root.lookupType('usp_record.Record');
const MsgType = root.lookupType('usp.Msg');

/** The largest record the agent accepts (an MQTT broker's default maximum packet is larger). */
export const MAX_RECORD_BYTES = 1024 * 1024;

export const USP_VERSIONS = ['1.0', '1.1', '1.2', '1.3', '1.4'] as const;
export const AGENT_VERSION = '1.4';

export class UspDecodeError extends Error {}

/** A record as decodeRecord gives it (protobufjs toObject with TO_OBJECT below). */
export type PlainRecord = usp_record.Record;

/** A message as decodeMsg gives it: it has a header and a body (decodeMsg refuses others). */
export type DecodedMsg = usp.Msg & { header: usp.Header; body: usp.Body };

/** A message to encode: a header naming its type and id, and a body in its input form. */
export interface PlainMsg {
  header: { msg_id: string; msg_type: usp.Header.MsgType | number };
  body: usp.IBody;
}

/** A request's kind: the field of Request that carries it ('get', 'set' ...). */
export type RequestKind = NonNullable<usp.Request['req_type']>;
/** The body of a request of this kind, in its input form (usp.IGet for 'get'). */
export type RequestBody<K extends RequestKind> = NonNullable<usp.IRequest[K]>;
/** The Header.MsgType of a request of this kind ('GET' for 'get'): a header naming another does not compile. */
export type RequestType<K extends RequestKind> = {
  get: 'GET';
  get_supported_dm: 'GET_SUPPORTED_DM';
  get_instances: 'GET_INSTANCES';
  set: 'SET';
  add: 'ADD';
  delete: 'DELETE';
  operate: 'OPERATE';
  notify: 'NOTIFY';
  get_supported_protocol: 'GET_SUPPORTED_PROTO';
  register: 'REGISTER';
  deregister: 'DEREGISTER';
}[K];

// The generated types (proto/generate.mjs) describe objects of exactly this form.
const TO_OBJECT = { longs: String, enums: String, bytes: Uint8Array, defaults: true, oneofs: true } as const;

/** maxBytes: the agent's limit for requests by default; a controller reading large responses sets its own. */
export function decodeRecord(buf: Uint8Array, maxBytes = MAX_RECORD_BYTES): PlainRecord {
  if (buf.length > maxBytes) throw new UspDecodeError(`record of ${buf.length} bytes exceeds ${maxBytes}`);
  try {
    return RecordType.toObject(RecordType.decode(buf), TO_OBJECT) as PlainRecord;
  } catch (e) {
    throw new UspDecodeError(`record could not be parsed: ${(e as Error).message}`);
  }
}

export function decodeMsg(buf: Uint8Array): DecodedMsg {
  let m: usp.Msg;
  try {
    m = MsgType.toObject(MsgType.decode(buf), TO_OBJECT) as usp.Msg;
  } catch (e) {
    throw new UspDecodeError(`message could not be parsed: ${(e as Error).message}`);
  }
  if (!m.header || !m.body) throw new UspDecodeError('message lacks a header or a body');
  if (!m.header.msg_id) throw new UspDecodeError('message header lacks msg_id');
  return m as DecodedMsg;
}

/**
 * The bytes a part of a message takes as a field of its parent, by its type in usp-msg.proto
 * ("GetInstancesResp.RequestedPathResult"): its encoding, and a tag and length of up to 4 bytes.
 */
export function encodedSize<T extends keyof usp.InputByName>(type: T, part: usp.InputByName[T]): number {
  const t = root.lookupType(`usp.${type}`);
  return t.encode(t.fromObject(part)).finish().length + 4;
}

export function encodeMsg(msg: PlainMsg): Uint8Array {
  return MsgType.encode(MsgType.fromObject(msg)).finish();
}

export function encodeRecord(rec: usp_record.IRecord): Uint8Array {
  return RecordType.encode(RecordType.fromObject(rec)).finish();
}

/** A NoSessionContext record carrying one message. */
export function wrapMsg(fromId: string, toId: string, msg: PlainMsg, version = AGENT_VERSION): Uint8Array {
  return encodeRecord({
    version,
    to_id: toId,
    from_id: fromId,
    payload_security: 'PLAINTEXT',
    no_session_context: { payload: encodeMsg(msg) },
  });
}
