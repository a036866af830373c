// `cpe-agent ctl`: a USP controller for people. Talks to any USP agent over any MQTT broker and
// prints what it answers, for humans or as JSON.
import type { DecodedMsg } from '../usp/codec.js';
import { type ControllerOptions, UspController } from '../usp/controller-client.js';
import type * as usp from '../usp/generated/usp-msg.js';
import { CliError, type Command, parseOptions } from './command.js';
import { localPathOf, type ServedFile, serveLocalFile } from './local-file-server.js';

const HELP = `Usage: cpe-agent ctl <action> [arguments] [options]

A USP controller over MQTT. Defaults reach the agent started by 'npm start'.

Actions:
  get PATH...                       read parameters (partial paths, wildcards, search expressions)
  set OBJ.PARAM=VALUE...            write parameters, atomically unless --allow-partial
  add TABLE. [PARAM=VALUE...]       create an object instance
  delete PATH...                    delete object instances
  operate CMD() [ARG=VALUE...]      run a command; --wait waits for an async command to finish.
                                    An argument URL=file:PATH (InstallDU, Update) is served by ctl
                                    itself on a 127.0.0.1 port until the command finishes (implies
                                    --wait; the agent must run on this machine): the agent reads no
                                    file: URLs from controllers
  instances PATH...                 list object instances and their unique keys
  supported PATH...                 show the supported data model below a path
  protocol                          show the USP versions the agent supports
  watch TYPE PATH...                subscribe (ValueChange, ObjectCreation, ObjectDeletion, Event,
                                    OperationComplete) and print notifications until Ctrl-C

Options:
  --url URL            broker (default mqtt://127.0.0.1:1883)
  --mqtt-version V     3.1.1 or 5.0 (default: 5.0, falling back to 3.1.1)
  --id ID              this controller's endpoint id (default proto::cpe-agent-ctl)
  --topic TOPIC        this controller's topic (default usp/controller/cpe-agent-ctl)
  --to ID              the agent's endpoint id (default os::00D0F1-Agent-EMBEDDED0001)
  --agent-topic TOPIC  the agent's topic (default usp/agent)
  --username U, --password P   broker credentials
  --depth N            get: max depth          --first-level   instances/supported: one level
  --allow-partial      set/add/delete           --key K         operate: command key
  --wait               operate: wait for OperationComplete (subscribed to while waiting); like watch,
                       needs --topic to be the one the agent sends this controller's notifications to
  --timeout MS         how long to wait for an answer (default 10000)
  --json               print the USP response as JSON
  -h, --help           this help`;

export const ctlCommand: Command = {
  name: 'ctl',
  help: HELP,
  async run(argv) {
    const { values, positionals } = parseOptions(
      argv,
      {
        url: { type: 'string', default: 'mqtt://127.0.0.1:1883' },
        'mqtt-version': { type: 'string' },
        id: { type: 'string', default: 'proto::cpe-agent-ctl' },
        topic: { type: 'string', default: 'usp/controller/cpe-agent-ctl' },
        to: { type: 'string', default: 'os::00D0F1-Agent-EMBEDDED0001' },
        'agent-topic': { type: 'string', default: 'usp/agent' },
        username: { type: 'string' },
        password: { type: 'string' },
        depth: { type: 'string' },
        'first-level': { type: 'boolean', default: false },
        'allow-partial': { type: 'boolean', default: false },
        key: { type: 'string', default: '' },
        wait: { type: 'boolean', default: false },
        timeout: { type: 'string', default: '10000' },
        json: { type: 'boolean', default: false },
      },
      true,
    );
    const [action, ...args] = positionals;
    if (!action)
      throw new CliError('needs an action (get, set, add, delete, operate, instances, supported, protocol, watch)');
    const version = values['mqtt-version'];
    if (version !== undefined && version !== '3.1.1' && version !== '5.0')
      throw new CliError(`--mqtt-version must be 3.1.1 or 5.0, not '${version}'`);
    const timeoutMs = Number(values.timeout);
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
      throw new CliError(`--timeout must be a positive number of milliseconds`);
    const base = {
      url: values.url!,
      endpointId: values.id!,
      topic: values.topic!,
      agentId: values.to!,
      agentTopic: values['agent-topic']!,
      timeoutMs,
      ...(values.username ? { username: values.username } : {}),
      ...(values.password ? { password: values.password } : {}),
    };
    const ctl = await connect(base, version as '3.1.1' | '5.0' | undefined);
    try {
      return await act(ctl, action, args, values);
    } finally {
      await ctl.close();
    }
  },
};

async function connect(
  base: Omit<ControllerOptions, 'version'>,
  version: '3.1.1' | '5.0' | undefined,
): Promise<UspController> {
  const tryVersion = async (v: '3.1.1' | '5.0') => {
    const c = new UspController({ ...base, version: v });
    await c.connect();
    return c;
  };
  if (version) return tryVersion(version);
  try {
    return await tryVersion('5.0');
  } catch {
    return tryVersion('3.1.1');
  }
}

const pair = (a: string): [string, string] => {
  const i = a.indexOf('=');
  if (i < 1) throw new CliError(`'${a}' is not NAME=VALUE`);
  return [a.slice(0, i), a.slice(i + 1)];
};

type Values = Record<string, string | boolean | undefined>;

async function act(ctl: UspController, action: string, args: string[], v: Values): Promise<number> {
  const need = (what: string) => {
    if (!args.length) throw new CliError(`${action} needs ${what}`);
  };
  let msg: DecodedMsg;
  switch (action) {
    case 'get':
      need('a path');
      msg = await ctl.request('get', 'GET', { param_paths: args, max_depth: Number(v.depth ?? 0) });
      break;
    case 'set': {
      need('OBJ.PARAM=VALUE');
      const byObj = new Map<string, usp.Set.IUpdateParamSetting[]>();
      for (const a of args) {
        const [path, value] = pair(a);
        const obj = path.slice(0, path.lastIndexOf('.') + 1);
        byObj.set(obj, [...(byObj.get(obj) ?? []), { param: path.slice(obj.length), value, required: true }]);
      }
      msg = await ctl.request('set', 'SET', {
        allow_partial: Boolean(v['allow-partial']),
        update_objs: [...byObj].map(([obj_path, param_settings]) => ({ obj_path, param_settings })),
      });
      break;
    }
    case 'add': {
      need('a table path');
      const [obj, ...settings] = args;
      msg = await ctl.request('add', 'ADD', {
        allow_partial: Boolean(v['allow-partial']),
        create_objs: [
          {
            obj_path: obj,
            param_settings: settings.map(pair).map(([param, value]) => ({ param, value, required: true })),
          },
        ],
      });
      break;
    }
    case 'delete':
      need('a path');
      msg = await ctl.request('delete', 'DELETE', { allow_partial: Boolean(v['allow-partial']), obj_paths: args });
      break;
    case 'instances':
      need('a path');
      msg = await ctl.request('get_instances', 'GET_INSTANCES', {
        obj_paths: args,
        first_level_only: Boolean(v['first-level']),
      });
      break;
    case 'supported':
      need('a path');
      msg = await ctl.request('get_supported_dm', 'GET_SUPPORTED_DM', {
        obj_paths: args,
        first_level_only: Boolean(v['first-level']),
        return_commands: true,
        return_events: true,
        return_params: true,
        return_unique_key_sets: true,
      });
      break;
    case 'protocol':
      msg = await ctl.request('get_supported_protocol', 'GET_SUPPORTED_PROTO', {
        controller_supported_protocol_versions: '1.4',
      });
      break;
    case 'operate':
      return operate(ctl, args, v);
    case 'watch':
      return watch(ctl, args, v);
    default:
      throw new CliError(`unknown action '${action}'`);
  }
  return print(msg, Boolean(v.json));
}

async function operate(ctl: UspController, args: string[], v: Values): Promise<number> {
  const [command, ...rest] = args;
  if (!command?.endsWith('()')) throw new CliError("operate needs a command path ending in '()'");
  const key = String(v.key || `ctl-${Date.now()}`);
  const served: ServedFile[] = [];
  let subscription: string | undefined;
  try {
    const input: Record<string, string> = {};
    for (const [name, value] of rest.map(pair)) {
      if (name !== 'URL' || !value.startsWith('file:')) {
        input[name] = value;
        continue;
      }
      const path = localPathOf(value);
      const file = await serveLocalFile(path);
      served.push(file);
      input[name] = file.url;
      console.error(`serving ${path} to the agent at ${file.url} until the command finishes`);
    }
    // A file served here must stay reachable until the agent has it: until the command is over. Its
    // OperationComplete reaches only a subscriber: one for this command, for as long as ctl waits.
    const wait = Boolean(v.wait) || served.length > 0;
    const id = `ctl-operate-${process.pid}`;
    if (wait && !(await notificationsReachUs(ctl, v))) return 1;
    if (wait && !(subscription = await subscribe(ctl, id, 'OperationComplete', [command], Boolean(v.json)))) return 1;
    const msg = await ctl.request('operate', 'OPERATE', {
      command,
      command_key: key,
      send_resp: true,
      input_args: input,
    });
    const code = print(msg, Boolean(v.json));
    const pending = (msg.body.response?.operate_resp?.operation_results ?? []).filter(
      (r) => r.operation_resp === 'req_obj_path',
    );
    if (!wait || !pending.length || code !== 0) return code;
    const n = await ctl.waitForNotification(
      (x) => x.subscriptionId === id && x.body.oper_complete?.command_key === key,
      24 * 3600 * 1000,
    );
    console.log(v.json ? JSON.stringify(n.body) : formatNotify(n.body));
    return n.body.oper_complete?.cmd_failure ? 1 : 0;
  } finally {
    if (subscription)
      await ctl.request('delete', 'DELETE', { allow_partial: true, obj_paths: [subscription] }).catch(() => undefined);
    for (const f of served) await f.close();
  }
}

/**
 * The agent sends a Notify to the topic it has for this controller (Controller.{i}.MTP.{i}.MQTT.Topic),
 * not to the one requests come from: ctl waiting on any other would wait forever. False (printed) when
 * none of the controller's enabled MQTT MTPs names ctl's topic; true when the agent does not say.
 */
async function notificationsReachUs(ctl: UspController, v: Values): Promise<boolean> {
  const base = `Device.LocalAgent.Controller.[EndpointID=="${v.id}"].MTP.*.`;
  const msg = await ctl.request('get', 'GET', {
    param_paths: ['Enable', 'Protocol', 'MQTT.Topic'].map((p) => base + p),
    max_depth: 0,
  });
  const results = msg.body.response?.get_resp?.req_path_results;
  if (!results || results.some((r) => r.err_code)) return true;
  const mtps = new Map<string, Record<string, string>>();
  for (const r of results)
    for (const o of r.resolved_path_results)
      for (const [k, val] of Object.entries(o.result_params)) {
        const [, mtp, name] = /^(.*\.MTP\.\d+\.)(.*)$/.exec(o.resolved_path + k) ?? [];
        if (mtp && name) mtps.set(mtp, { ...mtps.get(mtp), [name]: val });
      }
  const topics = [...mtps.values()]
    .filter((m) => m.Enable === 'true' && m.Protocol === 'MQTT')
    .map((m) => m['MQTT.Topic']);
  if (topics.includes(String(v.topic))) return true;
  const hint = topics.length ? ` (pass --topic ${topics[0]})` : '';
  console.error(
    `the agent sends notifications for ${v.id} to ${topics.join(', ') || 'no MQTT topic'}, not to this ctl's ` +
      `topic ${v.topic}: none would reach it${hint}`,
  );
  return false;
}

/** Adds an enabled subscription; returns its path, or undefined when the agent refused it (printed). */
async function subscribe(
  ctl: UspController,
  id: string,
  type: string,
  paths: string[],
  json: boolean,
): Promise<string | undefined> {
  const add = await ctl.request('add', 'ADD', {
    allow_partial: false,
    create_objs: [
      {
        obj_path: 'Device.LocalAgent.Subscription.',
        param_settings: [
          { param: 'ID', value: id, required: true },
          { param: 'NotifType', value: type, required: true },
          { param: 'ReferenceList', value: paths.join(','), required: true },
          { param: 'Enable', value: 'true', required: true },
        ],
      },
    ],
  });
  if (print(add, json, true) !== 0) return undefined;
  return add.body.response?.add_resp?.created_obj_results[0]?.oper_status?.oper_success?.instantiated_path;
}

async function watch(ctl: UspController, args: string[], v: Values): Promise<number> {
  const [type, ...paths] = args;
  const types = ['ValueChange', 'ObjectCreation', 'ObjectDeletion', 'Event', 'OperationComplete'];
  if (!type || !types.includes(type) || !paths.length)
    throw new CliError(`watch needs a type (${types.join(', ')}) and paths`);
  const id = `ctl-watch-${process.pid}`;
  if (!(await notificationsReachUs(ctl, v))) return 1;
  const path = await subscribe(ctl, id, type, paths, Boolean(v.json));
  if (!path) return 1;
  ctl.onNotify = (n) => {
    if (n.subscriptionId === id) console.log(v.json ? JSON.stringify(n.body) : formatNotify(n.body));
  };
  console.error(`watching ${type} on ${paths.join(', ')} (subscription ${path}); Ctrl-C to stop`);
  await new Promise<void>((r) => {
    process.once('SIGINT', r);
    process.once('SIGTERM', r);
  });
  await ctl.request('delete', 'DELETE', { allow_partial: true, obj_paths: [path] }).catch(() => undefined);
  return 0;
}

function formatNotify(n: usp.Notify): string {
  if (n.value_change) return `${n.value_change.param_path} = ${n.value_change.param_value}`;
  if (n.obj_creation) return `created ${n.obj_creation.obj_path} ${JSON.stringify(n.obj_creation.unique_keys)}`;
  if (n.obj_deletion) return `deleted ${n.obj_deletion.obj_path}`;
  if (n.event) return `event ${n.event.obj_path}${n.event.event_name} ${JSON.stringify(n.event.params)}`;
  if (n.oper_complete) {
    const o = n.oper_complete;
    const result = o.cmd_failure
      ? `error ${o.cmd_failure.err_code} ${o.cmd_failure.err_msg}`
      : JSON.stringify(o.req_output_args?.output_args ?? {});
    return `completed ${o.obj_path}${o.command_name} (key ${o.command_key}): ${result}`;
  }
  return JSON.stringify(n);
}

/** Prints a response for people (or JSON); returns 1 when the agent reported any error. */
function print(msg: DecodedMsg, json: boolean, quiet = false): number {
  if (json && !quiet) console.log(JSON.stringify(msg.body, null, 1));
  if (msg.body.error) {
    const e = msg.body.error;
    console.error(`error ${e.err_code}: ${e.err_msg}`);
    for (const p of e.param_errs ?? []) console.error(`  ${p.param_path}: ${p.err_code} ${p.err_msg}`);
    return 1;
  }
  const r = msg.body.response;
  let failed = false;
  const fail = (path: string, code: number, text: string) => {
    failed = true;
    console.error(`${path}: error ${code}: ${text}`);
  };
  const out: string[] = [];
  switch (r?.resp_type) {
    case 'get_resp':
      for (const p of r.get_resp.req_path_results) {
        if (p.err_code) fail(p.requested_path, p.err_code, p.err_msg);
        for (const o of p.resolved_path_results)
          for (const [k, val] of Object.entries(o.result_params)) out.push(`${o.resolved_path}${k} = ${val}`);
      }
      break;
    case 'set_resp':
      for (const o of r.set_resp.updated_obj_results) {
        const s = o.oper_status;
        if (s?.oper_failure) fail(o.requested_path, s.oper_failure.err_code, s.oper_failure.err_msg);
        else
          for (const u of s?.oper_success?.updated_inst_results ?? [])
            for (const [k, val] of Object.entries(u.updated_params)) out.push(`${u.affected_path}${k} = ${val}`);
      }
      break;
    case 'add_resp':
      for (const o of r.add_resp.created_obj_results) {
        const s = o.oper_status;
        if (s?.oper_failure) fail(o.requested_path, s.oper_failure.err_code, s.oper_failure.err_msg);
        else if (s?.oper_success)
          out.push(`created ${s.oper_success.instantiated_path} ${JSON.stringify(s.oper_success.unique_keys)}`);
      }
      break;
    case 'delete_resp':
      for (const o of r.delete_resp.deleted_obj_results) {
        const s = o.oper_status;
        if (s?.oper_failure) fail(o.requested_path, s.oper_failure.err_code, s.oper_failure.err_msg);
        else out.push(...(s?.oper_success?.affected_paths ?? []).map((p) => `deleted ${p}`));
      }
      break;
    case 'get_instances_resp':
      for (const p of r.get_instances_resp.req_path_results) {
        if (p.err_code) fail(p.requested_path, p.err_code, p.err_msg);
        for (const i of p.curr_insts) out.push(`${i.instantiated_obj_path} ${JSON.stringify(i.unique_keys)}`);
      }
      break;
    case 'get_supported_dm_resp':
      for (const p of r.get_supported_dm_resp.req_obj_results) {
        if (p.err_code) fail(p.req_obj_path, p.err_code, p.err_msg);
        for (const o of p.supported_objs) {
          out.push(
            `${o.supported_obj_path}` +
              `${o.is_multi_instance ? ` (table, ${o.access === 'OBJ_ADD_DELETE' ? 'add/delete' : 'read-only'})` : ''}`,
          );
          for (const prm of o.supported_params)
            out.push(
              `  ${prm.param_name}  ${String(prm.value_type).replace('PARAM_', '').toLowerCase()} ` +
                `${prm.access === 'PARAM_READ_WRITE' ? 'rw' : 'r'}`,
            );
          for (const c of o.supported_commands)
            out.push(
              `  ${c.command_name}  ${c.command_type === 'CMD_ASYNC' ? 'async' : 'sync'} in: ` +
                `${c.input_arg_names.join(', ')} out: ${c.output_arg_names.join(', ')}`,
            );
          for (const e of o.supported_events) out.push(`  ${e.event_name}  args: ${e.arg_names.join(', ')}`);
        }
      }
      break;
    case 'operate_resp':
      for (const o of r.operate_resp.operation_results) {
        if (o.cmd_failure) fail(o.executed_command, o.cmd_failure.err_code, o.cmd_failure.err_msg);
        else if (o.req_obj_path) out.push(`${o.executed_command} started: ${o.req_obj_path}`);
        else out.push(`${o.executed_command} done ${JSON.stringify(o.req_output_args?.output_args ?? {})}`);
      }
      break;
    case 'get_supported_protocol_resp':
      out.push(r.get_supported_protocol_resp.agent_supported_protocol_versions);
      break;
    default:
      out.push(JSON.stringify(r ?? msg.body));
  }
  if (!json && !quiet) for (const l of out) console.log(l);
  return failed ? 1 : 0;
}
