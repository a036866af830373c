// USP GetSupportedDM: the supported definitions at and below each path, with the parts asked for; a
// path named more than once is answered once. A path naming one parameter, command or event returns
// its object with that item only. Each path's result is charged to the response budget (7005 past it).
import type { ArgsSpec } from '../../dm/definition-format.js';
import { DmError } from '../../dm/errors.js';
import type { ObjectDef } from '../../dm/schema.js';
import { visibleIn } from '../../dm/schema.js';
import { encodedSize } from '../codec.js';
import type { RequestHandler, UspContext } from '../context.js';
import type * as usp from '../generated/usp-msg.js';

const VALUE_TYPE: Record<string, usp.GetSupportedDMResp.ParamValueType> = {
  string: 'PARAM_STRING',
  boolean: 'PARAM_BOOLEAN',
  int: 'PARAM_INT',
  unsignedInt: 'PARAM_UNSIGNED_INT',
  long: 'PARAM_LONG',
  unsignedLong: 'PARAM_UNSIGNED_LONG',
  decimal: 'PARAM_DECIMAL',
  dateTime: 'PARAM_DATE_TIME',
  base64: 'PARAM_BASE_64',
  hexBinary: 'PARAM_HEX_BINARY',
};

const argNames = (a: ArgsSpec): string[] => [
  ...a.params.map((p) => p.name),
  ...a.objects.flatMap((o) => o.params.map((p) => `${o.path}${p.name}`)),
];

export const handleGetSupportedDM: RequestHandler<'get_supported_dm'> = (req, ctx) => ({
  response: {
    get_supported_dm_resp: {
      req_obj_results: [...new Set(req.obj_paths)].map((path) => {
        let result: usp.GetSupportedDMResp.IRequestedObjectResult;
        try {
          result = {
            req_obj_path: path,
            err_code: 0,
            err_msg: '',
            data_model_inst_uri: 'urn:broadband-forum-org:tr-181-2-19-0-usp',
            supported_objs: supported(path, req, ctx),
          };
        } catch (e) {
          const err = e instanceof DmError ? e : new DmError(7003, String(e));
          result = { req_obj_path: path, err_code: err.code, err_msg: err.message, supported_objs: [] };
        }
        ctx.budget.charge(encodedSize('GetSupportedDMResp.RequestedObjectResult', result));
        return result;
      }),
    },
  },
});

function supported(
  path: string,
  req: usp.GetSupportedDM,
  ctx: UspContext,
): usp.GetSupportedDMResp.ISupportedObjectResult[] {
  const item = /^(.*\.)([A-Za-z_][\w-]*(\(\)|!)?)$/.exec(path);
  if (item) {
    const [, objPath, name] = item;
    const def = ctx.dm.supported(objPath!, ctx.caller, true)[0]!;
    const only = {
      param: def.params.has(name!) ? name : undefined,
      command: def.commands.has(name!) ? name : undefined,
      event: def.events.has(name!) ? name : undefined,
    };
    if (!only.param && !only.command && !only.event) {
      // An object named without its trailing dot (TP-469 1.99 asks for 'Device.LocalAgent.Subscription')
      // is read as that object: the request can mean nothing else.
      if (!item[3]) return objects(path, req, ctx);
      throw new DmError(7026, `${path} is not in the supported data model`, path);
    }
    return [
      describe(
        def,
        {
          ...req,
          return_params: Boolean(only.param),
          return_commands: Boolean(only.command),
          return_events: Boolean(only.event),
        },
        name,
      ),
    ];
  }
  return objects(path, req, ctx);
}

/** With first_level_only, the child objects come bare: no parameters, commands or events (USP 1.4). */
function objects(path: string, req: usp.GetSupportedDM, ctx: UspContext) {
  const bare = { ...req, return_params: false, return_commands: false, return_events: false };
  return ctx.dm
    .supported(path, ctx.caller, req.first_level_only)
    .map((d, i) => describe(d, i > 0 && req.first_level_only ? bare : req));
}

function describe(
  def: ObjectDef,
  req: usp.GetSupportedDM,
  onlyName?: string,
): usp.GetSupportedDMResp.ISupportedObjectResult {
  const view = 'usp';
  const keep = (n: string) => onlyName === undefined || n === onlyName;
  const access = !def.multi ? 'OBJ_READ_ONLY' : def.creatable ? 'OBJ_ADD_DELETE' : 'OBJ_READ_ONLY';
  return {
    supported_obj_path: def.path,
    access,
    is_multi_instance: def.multi,
    supported_params: !req.return_params
      ? []
      : [...def.params.values()]
          .filter((p) => visibleIn(p.only, view) && keep(p.name))
          .map(
            (p): usp.GetSupportedDMResp.ISupportedParamResult => ({
              param_name: p.name,
              access: p.writable ? 'PARAM_READ_WRITE' : 'PARAM_READ_ONLY',
              value_type: VALUE_TYPE[p.type],
              value_change:
                p.name === 'UpTime' || def.counters.has(p.name) ? 'VALUE_CHANGE_WILL_IGNORE' : 'VALUE_CHANGE_ALLOWED',
            }),
          ),
    supported_commands: !req.return_commands
      ? []
      : [...def.commands.values()]
          .filter((c) => keep(c.name))
          .map(
            (c): usp.GetSupportedDMResp.ISupportedCommandResult => ({
              command_name: c.name,
              input_arg_names: argNames(c.input),
              output_arg_names: argNames(c.output),
              command_type: c.async ? 'CMD_ASYNC' : 'CMD_SYNC',
            }),
          ),
    supported_events: !req.return_events
      ? []
      : [...def.events.values()]
          .filter((e) => keep(e.name))
          .map(
            (e): usp.GetSupportedDMResp.ISupportedEventResult => ({ event_name: e.name, arg_names: argNames(e.args) }),
          ),
    divergent_paths: [],
    unique_key_sets: !req.return_unique_key_sets
      ? []
      : def.keys.map((k): usp.GetSupportedDMResp.ISupportedUniqueKeySet => ({ key_names: k })),
  };
}
