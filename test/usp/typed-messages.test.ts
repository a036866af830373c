// The USP message types generated from proto/ (proto/generate.mjs): a misspelt field, an enum name the
// proto lacks or a body of the wrong request fails the build (each @ts-expect-error below must find its
// error, or tsc fails), and what the types say decoding gives is what the codec gives.
import assert from 'node:assert/strict';
import test from 'node:test';
import {
  type DecodedMsg,
  decodeMsg,
  decodeRecord,
  encodeRecord,
  type PlainMsg,
  type PlainRecord,
  type RequestBody,
  type RequestType,
  wrapMsg,
} from '../../src/usp/codec.js';
import type * as usp from '../../src/usp/generated/usp-msg.js';
import type * as usp_record from '../../src/usp/generated/usp-record.js';

test('a misspelt field, enum name or request body does not compile', () => {
  const get: usp.IGet = {
    param_paths: ['Device.'],
    // @ts-expect-error a misspelt field of an input type
    max_dept: 1,
  };
  const status: usp.SetResp.UpdatedObjectResult.IOperationStatus = {
    // @ts-expect-error a misspelt oneof member
    oper_sucess: {},
  };
  const param: usp.GetSupportedDMResp.ISupportedParamResult = {
    // @ts-expect-error an enum name the proto does not have
    value_type: 'PARAM_TEXT',
  };
  const header: PlainMsg['header'] = {
    msg_id: '1',
    // @ts-expect-error a message type the proto does not have
    msg_type: 'GET_RESPONSE',
  };
  // @ts-expect-error the body of another request
  const body: RequestBody<'get'> = { obj_paths: ['Device.'] };
  // @ts-expect-error the message type of another request
  const type: RequestType<'get'> = 'SET';
  const readMisspelt = (r: usp.GetResp.RequestedPathResult) =>
    // @ts-expect-error a misspelt field of a decoded type
    r.resolved_paths_results;
  const readUnset = (b: usp.Body) =>
    // @ts-expect-error a oneof member is absent unless its virtual field names it
    b.response.get_resp;
  const record: usp_record.IRecord = {
    // @ts-expect-error a misspelt field of a record
    to_Id: 'os::agent',
  };
  assert.ok([get, status, param, header, body, type, readMisspelt, readUnset, record].length);
});

test('what decoding gives can be encoded again: every decoded type is its input type', () => {
  // Each compiles only while the decoded type is assignable to the input type.
  const passOn = [
    (m: usp.Msg): usp.IMsg => m,
    (m: DecodedMsg): PlainMsg => m,
    (m: usp.GetSupportedDMResp): usp.IGetSupportedDMResp => m,
    (m: usp.Notify): usp.INotify => m,
    (r: PlainRecord): usp_record.IRecord => r,
  ];
  assert.equal(passOn.length, 5);
});

test('a message encoded from typed values decodes to those values, every field present', () => {
  const notify: PlainMsg = {
    header: { msg_id: 'n-1', msg_type: 'NOTIFY' },
    body: {
      request: {
        notify: {
          subscription_id: 'sub',
          send_resp: true,
          oper_complete: {
            obj_path: 'Device.',
            command_name: 'Reboot()',
            command_key: 'k',
            req_output_args: { output_args: { A: '1' } },
          },
        },
      },
    },
  };
  const decoded: DecodedMsg = {
    header: { msg_id: 'n-1', msg_type: 'NOTIFY' },
    body: {
      msg_body: 'request',
      request: {
        req_type: 'notify',
        notify: {
          subscription_id: 'sub',
          send_resp: true,
          notification: 'oper_complete',
          oper_complete: {
            obj_path: 'Device.',
            command_name: 'Reboot()',
            command_key: 'k',
            operation_resp: 'req_output_args',
            req_output_args: { output_args: { A: '1' } },
          },
        },
      },
    },
  };
  assert.deepEqual(roundTrip(notify), decoded);

  const dm: PlainMsg = {
    header: { msg_id: 'd-1', msg_type: 'GET_SUPPORTED_DM_RESP' },
    body: {
      response: {
        get_supported_dm_resp: {
          req_obj_results: [
            {
              req_obj_path: 'Device.',
              supported_objs: [
                {
                  supported_obj_path: 'Device.X.{i}.',
                  access: 'OBJ_ADD_DELETE',
                  is_multi_instance: true,
                  supported_params: [{ param_name: 'A', access: 'PARAM_READ_WRITE', value_type: 'PARAM_BOOLEAN' }],
                  unique_key_sets: [{ key_names: ['Alias'] }],
                },
              ],
            },
          ],
        },
      },
    },
  };
  const dmDecoded: DecodedMsg = {
    header: { msg_id: 'd-1', msg_type: 'GET_SUPPORTED_DM_RESP' },
    body: {
      msg_body: 'response',
      response: {
        resp_type: 'get_supported_dm_resp',
        get_supported_dm_resp: {
          req_obj_results: [
            {
              req_obj_path: 'Device.',
              err_code: 0,
              err_msg: '',
              data_model_inst_uri: '',
              supported_objs: [
                {
                  supported_obj_path: 'Device.X.{i}.',
                  access: 'OBJ_ADD_DELETE',
                  is_multi_instance: true,
                  supported_commands: [],
                  supported_events: [],
                  supported_params: [
                    {
                      param_name: 'A',
                      access: 'PARAM_READ_WRITE',
                      value_type: 'PARAM_BOOLEAN',
                      value_change: 'VALUE_CHANGE_UNKNOWN',
                    },
                  ],
                  divergent_paths: [],
                  unique_key_sets: [{ key_names: ['Alias'] }],
                },
              ],
            },
          ],
        },
      },
    },
  };
  assert.deepEqual(roundTrip(dm), dmDecoded);
});

test('a record decodes as its type says: 64-bit integers as strings, bytes, enums by name', () => {
  const bytes = encodeRecord({
    version: '1.4',
    to_id: 'os::agent',
    from_id: 'proto::ctl',
    session_context: { session_id: 2, sequence_id: '9007199254740993', payload: [new Uint8Array([1, 2])] },
  });
  const expected: PlainRecord = {
    version: '1.4',
    to_id: 'os::agent',
    from_id: 'proto::ctl',
    payload_security: 'PLAINTEXT',
    mac_signature: Buffer.alloc(0),
    sender_cert: Buffer.alloc(0),
    record_type: 'session_context',
    session_context: {
      session_id: '2',
      sequence_id: '9007199254740993',
      expected_id: '0',
      retransmit_id: '0',
      payload_sar_state: 'NONE',
      payloadrec_sar_state: 'NONE',
      payload: [Buffer.from([1, 2])],
    },
  };
  assert.deepEqual(decodeRecord(bytes), expected);
});

function roundTrip(msg: PlainMsg): DecodedMsg {
  const record = decodeRecord(wrapMsg('proto::ctl', 'os::agent', msg));
  assert.equal(record.record_type, 'no_session_context');
  return decodeMsg(record.no_session_context!.payload);
}
