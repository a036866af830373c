// `cpe-agent dm-import`: reads Broadband Forum data-model XML (component files and overlays) and
// writes the facts the agent needs (names, types, access, constraints, commands, events) in our
// own definition format. Descriptions are not carried over. Device makers use it to add areas.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseStringPromise } from 'xml2js';
import type {
  ArgsSpec,
  BaseType,
  DefinitionFile,
  EventSpec,
  ObjectSpec,
  Only,
  ParamSpec,
  RefSpec,
} from '../dm/definition-format.js';
import { BASE_TYPES } from '../dm/definition-format.js';

interface XNode {
  '#name': string;
  $?: Record<string, string>;
  $$?: XNode[];
  _?: string;
}

/** TR-106 named data types the TR-181 files import (tr-106-types.xml is not shipped with them). */
const TR106_TYPES: Record<string, Partial<ParamSpec> & { type: BaseType }> = {
  URL: { type: 'string', sizes: [{ max: 2048 }] },
  UUID: {
    type: 'string',
    sizes: [{ min: 36, max: 36 }],
    patterns: ['[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}'],
  },
  Alias: { type: 'string', sizes: [{ max: 64 }] },
  JSONObject: { type: 'string' },
  StatsCounter32: { type: 'unsignedInt' },
  StatsCounter64: { type: 'unsignedLong' },
  IPAddress: { type: 'string', sizes: [{ max: 45 }] },
  MACAddress: {
    type: 'string',
    sizes: [{ max: 17 }],
    patterns: ['', '([0-9A-Fa-f][0-9A-Fa-f]:){5}([0-9A-Fa-f][0-9A-Fa-f])'],
  },
  DiagnosticsState: { type: 'string', enum: ['None', 'Requested', 'Canceled', 'Complete', 'Error'] },
};

const children = (n: XNode | undefined, name?: string): XNode[] =>
  (n?.$$ ?? []).filter((c) => name === undefined || c['#name'] === name);
const attr = (n: XNode, a: string): string | undefined => n.$?.[a];
const num = (s: string | undefined): number | undefined => (s === undefined || s === '' ? undefined : Number(s));
const addOnce = (list: string[], v: string): void => {
  if (!list.includes(v)) list.push(v);
};
const gone = (n: XNode): boolean => ['deleted', 'obsoleted'].includes(attr(n, 'status') ?? '');

interface Ctx {
  obj: ObjectSpec | null;
  prefix: string;
  args: ArgsSpec | null;
  argObj: ParamSpec[] | null;
  only?: Only;
}

class Importer {
  readonly components = new Map<string, XNode>();
  readonly objects = new Map<string, ObjectSpec>();
  private overlay: Only | undefined;

  addComponents(doc: XNode): void {
    for (const c of children(doc, 'component')) this.components.set(attr(c, 'name')!, c);
  }

  /** Items a protocol overlay adds to objects defined before it belong to that protocol's view only. */
  applyModel(doc: XNode, overlay?: Only): void {
    this.overlay = overlay;
    for (const m of children(doc, 'model')) this.walk(m, { obj: null, prefix: '', args: null, argObj: null });
  }

  private walk(node: XNode, ctx: Ctx): void {
    for (const c of children(node)) {
      if (gone(c)) continue;
      switch (c['#name']) {
        case 'object':
          this.object(c, ctx);
          break;
        case 'parameter':
          this.parameter(c, ctx);
          break;
        case 'component':
          this.component(c, ctx);
          break;
        case 'command':
          this.command(c, ctx);
          break;
        case 'event':
          this.event(c, ctx);
          break;
        case 'uniqueKey':
          if (ctx.obj?.table) {
            const key = children(c, 'parameter').map((p) => attr(p, 'ref')!);
            if (!ctx.obj.table.keys.some((k) => k.join() === key.join())) ctx.obj.table.keys.push(key);
            if (attr(c, 'functional') === 'false') {
              for (const k of key)
                if (k !== 'Alias' && !(ctx.obj.table.fixedKeys ??= []).includes(k)) ctx.obj.table.fixedKeys.push(k);
            }
          }
          break;
        default:
          break;
      }
    }
  }

  private component(c: XNode, ctx: Ctx): void {
    const name = attr(c, 'ref')!;
    if (name === 'Alias') {
      this.parameter(
        {
          '#name': 'parameter',
          $: { name: 'Alias', access: 'readWrite' },
          $$: [{ '#name': 'syntax', $$: [{ '#name': 'dataType', $: { ref: 'Alias' } }] }],
        },
        ctx,
      );
      if (ctx.obj?.table && !ctx.obj.table.keys.some((k) => k.join() === 'Alias'))
        ctx.obj.table.keys.unshift(['Alias']);
      return;
    }
    const comp = this.components.get(name);
    if (!comp) return; // defined in a file that is not part of the areas we import
    const path = attr(c, 'path');
    if (path !== undefined) {
      const full = path.startsWith('Device.') ? path : ctx.prefix + path;
      this.walk(comp, { ...ctx, prefix: full, obj: this.objects.get(full) ?? ctx.obj });
    } else {
      this.walk(comp, ctx);
    }
  }

  private object(c: XNode, ctx: Ctx): void {
    const rel = attr(c, 'name') ?? attr(c, 'base')!;
    if (ctx.args) {
      this.argObject(c, rel, ctx);
      return;
    }
    const path = rel.startsWith('Device.') ? rel : ctx.prefix + rel;
    let obj = this.objects.get(path);
    if (!obj) {
      obj = { path, access: 'readOnly', params: [], commands: [], events: [] };
      if (this.overlay) obj.only = this.overlay;
      this.objects.set(path, obj);
    }
    const access = attr(c, 'access');
    if (access === 'readOnly' || access === 'readWrite') obj.access = access;
    const max = attr(c, 'maxEntries');
    if (path.endsWith('.{i}.') && max !== undefined) {
      obj.table ??= { min: 0, max: null, keys: [] };
      obj.table.min = num(attr(c, 'minEntries')) ?? 0;
      obj.table.max = max === 'unbounded' ? null : Number(max);
      const ne = attr(c, 'numEntriesParameter');
      if (ne) obj.table.numEntries = ne;
      const en = attr(c, 'enableParameter');
      if (en) obj.table.enable = en;
    }
    if (attr(c, 'dmr:fixedObject') === 'true') obj.fixed = true;
    this.walk(c, { obj, prefix: path, args: null, argObj: null });
  }

  private argObject(c: XNode, rel: string, ctx: Ctx): void {
    const args = ctx.args!;
    let o = args.objects.find((x) => x.path === rel);
    if (!o) {
      o = { path: rel, multi: rel.endsWith('{i}.'), params: [] };
      args.objects.push(o);
    }
    this.walk(c, { ...ctx, argObj: o.params });
  }

  private parameter(c: XNode, ctx: Ctx): void {
    const name = attr(c, 'name') ?? attr(c, 'base')!;
    const list = ctx.argObj ?? ctx.args?.params ?? ctx.obj?.params;
    if (!list) return;
    let p = list.find((x) => x.name === name);
    const isNew = !p;
    if (!p) p = { name, type: 'string' };
    const access = attr(c, 'access');
    if (access && access !== 'readOnly') p.access = access as ParamSpec['access'];
    if (attr(c, 'mandatory') === 'true') p.mandatory = true;
    if (attr(c, 'forcedInform') === 'true') p.forcedInform = true;
    const an = attr(c, 'activeNotify');
    if (an && an !== 'normal') p.activeNotify = an as ParamSpec['activeNotify'];
    const syntax = children(c, 'syntax')[0];
    if (syntax) this.syntax(syntax, p);
    if (isNew) {
      if (this.overlay && !ctx.args && ctx.obj && ctx.obj.only !== this.overlay) p.only = this.overlay;
      list.push(p);
    }
  }

  private syntax(s: XNode, p: ParamSpec): void {
    if (attr(s, 'secured') === 'true' || attr(s, 'hidden') === 'true') p.secured = true;
    for (const t of children(s)) {
      const n = t['#name'];
      if (n === 'list') {
        p.list = {};
        const mi = num(attr(t, 'minItems'));
        if (mi !== undefined) p.list.minItems = mi;
        const ma = num(attr(t, 'maxItems'));
        if (ma !== undefined) p.list.maxItems = ma;
        const sz = children(t, 'size')[0];
        const ml = sz && num(attr(sz, 'maxLength'));
        if (ml !== undefined) p.list.maxLength = ml;
      } else if (n === 'default') {
        const type = attr(t, 'type');
        if (type === 'object' || type === 'factory' || type === 'parameter') p.default = attr(t, 'value') ?? '';
      } else if (n === 'dataType') {
        const ref = attr(t, 'ref')!;
        const dt = TR106_TYPES[ref];
        if (!dt) throw new Error(`unknown TR-106 data type ${ref} for ${p.name}`);
        Object.assign(p, structuredClone(dt));
        this.facets(t, p, true);
      } else if ((BASE_TYPES as readonly string[]).includes(n)) {
        p.type = n as BaseType;
        this.facets(t, p, false);
      }
    }
    // The XML writes a list's default in brackets ("[]" is the empty list); the value itself has none.
    const bracketed = p.list && p.default !== undefined ? /^\[(.*)\]$/s.exec(p.default) : null;
    if (bracketed) p.default = bracketed[1]!;
  }

  /** inherited: the sizes came from a named data type, and a size given here replaces them. */
  private facets(t: XNode, p: ParamSpec, inherited: boolean): void {
    let replaceSizes = inherited;
    for (const f of children(t)) {
      const a = (k: string) => num(attr(f, k));
      switch (f['#name']) {
        case 'size': {
          const sz: { min?: number; max?: number } = {};
          if (a('minLength') !== undefined) sz.min = a('minLength')!;
          if (a('maxLength') !== undefined) sz.max = a('maxLength')!;
          if (sz.min === undefined && sz.max === undefined) break;
          if (replaceSizes) {
            p.sizes = [];
            replaceSizes = false;
          }
          // Each model file that names Device. repeats its sizes: keep each once.
          if (!(p.sizes ??= []).some((x) => JSON.stringify(x) === JSON.stringify(sz))) p.sizes.push(sz);
          break;
        }
        case 'range': {
          const r: { min?: number; max?: number; step?: number } = {};
          if (a('minInclusive') !== undefined) r.min = a('minInclusive')!;
          if (a('maxInclusive') !== undefined) r.max = a('maxInclusive')!;
          if (a('step') !== undefined) r.step = a('step')!;
          if (!(p.ranges ??= []).some((x) => JSON.stringify(x) === JSON.stringify(r))) p.ranges.push(r);
          break;
        }
        // An overlay repeats a base parameter's values and adds its own: keep each once.
        case 'enumeration':
          addOnce((p.enum ??= []), attr(f, 'value') ?? '');
          break;
        case 'pattern':
          addOnce((p.patterns ??= []), attr(f, 'value') ?? '');
          break;
        case 'units':
          p.units = attr(f, 'value')!;
          break;
        case 'enumerationRef':
          p.enumRef = attr(f, 'targetParam')!;
          break;
        case 'pathRef':
        case 'instanceRef': {
          const ref: RefSpec = {
            kind: f['#name'] === 'pathRef' ? 'path' : 'instance',
            refType: (attr(f, 'refType') ?? 'weak') as RefSpec['refType'],
          };
          const tp = attr(f, 'targetParent');
          if (tp) ref.targetParent = tp;
          const tt = attr(f, 'targetType');
          if (tt) ref.targetType = tt as RefSpec['targetType'];
          p.ref = ref;
          break;
        }
        default:
          break;
      }
    }
  }

  private command(c: XNode, ctx: Ctx): void {
    if (!ctx.obj) return;
    const name = attr(c, 'name')!;
    let cmd = ctx.obj.commands.find((x) => x.name === name);
    if (!cmd) {
      cmd = {
        name,
        async: attr(c, 'async') === 'true',
        input: { params: [], objects: [] },
        output: { params: [], objects: [] },
      };
      ctx.obj.commands.push(cmd);
    }
    for (const dir of ['input', 'output'] as const) {
      for (const io of children(c, dir)) this.walk(io, { obj: ctx.obj, prefix: '', args: cmd[dir], argObj: null });
    }
  }

  private event(c: XNode, ctx: Ctx): void {
    if (!ctx.obj) return;
    const name = attr(c, 'name')!;
    let ev: EventSpec | undefined = ctx.obj.events.find((x) => x.name === name);
    if (!ev) {
      ev = { name, args: { params: [], objects: [] } };
      ctx.obj.events.push(ev);
    }
    this.walk(c, { obj: ctx.obj, prefix: '', args: ev.args, argObj: null });
  }
}

/** Which objects each output file holds, and what is left out because the agent does not implement it. */
const AREAS: { area: string; roots: string[]; skip: RegExp[] }[] = [
  { area: 'root', roots: ['Device.'], skip: [/Diagnostics\(\)|ProxiedDevice/] },
  {
    area: 'device-info',
    roots: ['Device.DeviceInfo.'],
    skip: [
      new RegExp(
        [
          String.raw`FirmwareImage|VendorConfigFile|VendorLogFile\.\{i\}\.Upload\(\)|Location`,
          'TemperatureStatus|NetworkProperties|Processor|ProxierInfo|SupportedDataModel',
          String.raw`DeviceImage|Reboots|Security|ProcessStatus\.(CPU|Process)\.|MemoryMonitor|KernelFault`,
          'ProcessFault|LogRotate|PowerStatus',
        ].join('|'),
      ),
    ],
  },
  {
    area: 'management-server',
    roots: ['Device.ManagementServer.'],
    skip: [
      new RegExp(
        [
          'ManageableDevice|EmbeddedDevice|VirtualDevice|DownloadAvailability|StandbyPolicy',
          'AutonomousTransferCompletePolicy|STUN|NATDetected|UDPConnectionRequestAddress|XMPP',
          'Jabber|Lightweight|UDPLightweight|KickURL|DownloadProgressURL',
        ].join('|'),
      ),
    ],
  },
  {
    area: 'local-agent',
    roots: ['Device.LocalAgent.'],
    skip: [
      new RegExp(
        [
          String.raw`Threshold|Watchdog|Monitor|E2ESession|WebSocket|STOMP|CoAP|UDS|\.DataElement`,
          'TransferComplete|AddMyCertificate|RequestChallenge',
          'ChallengeResponse|WakeUp!|ScheduleTimer|Timer!',
        ].join('|'),
      ),
    ],
  },
  { area: 'mqtt', roots: ['Device.MQTT.'], skip: [/\.Broker\.|BrokerNumberOfEntries|BridgeNumberOfEntries/] },
  { area: 'software-modules', roots: ['Device.SoftwareModules.'], skip: [] },
  { area: 'security', roots: ['Device.Security.'], skip: [/CABundle/] },
  // Only TraceRoute() of the IP diagnostics (TraceRoute:1); Device.IP.Interface is another file's.
  {
    area: 'ip-diagnostics',
    roots: ['Device.IP.Diagnostics.'],
    skip: [/^Device\.IP\.Diagnostics\.(?!(IPv4TraceRouteSupported|IPv6TraceRouteSupported|TraceRoute\(\))$)./],
  },
];

/** A NumberOfEntries parameter stays only when its table does. */
function countsKeptTable(all: Map<string, ObjectSpec>, kept: Set<string>, path: string, name: string): boolean {
  if (!name.endsWith('NumberOfEntries')) return true;
  for (const [p, o] of all)
    if (o.table?.numEntries === name && p.startsWith(path) && p.slice(path.length).split('.').length === 3)
      return kept.has(p);
  return false;
}

function pick(all: Map<string, ObjectSpec>, area: (typeof AREAS)[number]): ObjectSpec[] {
  const out: ObjectSpec[] = [];
  const skipped = (p: string) => area.skip.some((re) => re.test(p));
  const kept = new Set([...all.keys()].filter((p) => !skipped(p)));
  const rootOnly = area.roots.length === 1 && area.roots[0] === 'Device.';
  for (const [path, o] of [...all].sort(([a], [b]) => a.localeCompare(b))) {
    const inArea = rootOnly ? path === 'Device.' : area.roots.some((r) => path.startsWith(r));
    if (!inArea || skipped(path)) continue;
    const keep = (n: string) => !skipped(`${path}${n}`) && countsKeptTable(all, kept, path, n);
    out.push({
      ...o,
      params: o.params.filter((p) => keep(p.name)),
      commands: o.commands.filter((c) => keep(c.name)),
      events: o.events.filter((e) => keep(e.name)),
    });
  }
  return out;
}

export async function importTr181(specDir: string, outDir: string): Promise<string[]> {
  const files = (await readdir(specDir)).filter((f) => f.endsWith('.xml'));
  const docs = new Map<string, XNode>();
  for (const f of files) {
    const xml = await readFile(join(specDir, f), 'utf8');
    const parsed = await parseStringPromise(xml, {
      explicitChildren: true,
      preserveChildrenOrder: true,
      charsAsChildren: false,
      explicitRoot: false,
    });
    docs.set(f, parsed as XNode);
  }
  const imp = new Importer();
  for (const d of docs.values()) imp.addComponents(d);
  const order = [
    'tr-181-2-root.xml',
    'tr-181-2-deviceinfo.xml',
    'tr-181-2-localagent.xml',
    'tr-181-2-mqtt.xml',
    'tr-181-2-softwaremodules.xml',
    'tr-181-2-security.xml',
  ];
  for (const f of order) if (docs.has(f)) imp.applyModel(docs.get(f)!);
  if (docs.has('tr-181-2-usp.xml')) imp.applyModel(docs.get('tr-181-2-usp.xml')!, 'usp');
  if (docs.has('tr-181-2-cwmp.xml')) imp.applyModel(docs.get('tr-181-2-cwmp.xml')!, 'cwmp');
  // ManagementServer comes from the CWMP overlay but configures the ACS for both views.
  for (const [path, o] of imp.objects) if (path.startsWith('Device.ManagementServer.')) delete o.only;
  // EnableCWMP lives in ManagementServerCommon (tr-181-2-common.xml, not shipped with these files).
  const ms = imp.objects.get('Device.ManagementServer.');
  if (ms && !ms.params.some((p) => p.name === 'EnableCWMP'))
    ms.params.unshift({ name: 'EnableCWMP', type: 'boolean', access: 'readWrite', default: 'true' });
  await mkdir(outDir, { recursive: true });
  const written: string[] = [];
  for (const area of AREAS) {
    const def: DefinitionFile = {
      area: area.area,
      source: 'TR-181 Issue 2 Amendment 19 (Device:2.19)',
      objects: pick(imp.objects, area),
    };
    const file = join(outDir, `${area.area}.json`);
    await writeFile(file, `${JSON.stringify(def, null, 1)}\n`);
    written.push(file);
  }
  return written;
}
