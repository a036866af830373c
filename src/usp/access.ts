// ControllerTrust: what a controller may do, from the Role and Permission rows of its AssignedRole
// (or the UntrustedRole when it has none). For each target path the enabled Permission with the
// highest Order decides; without any, nothing is allowed. Checked on every message.
import type { DataModel } from '../dm/datamodel.js';
import { listItems } from '../dm/types.js';
import { controllerByEndpoint } from './controllers.js';

const CT = 'Device.LocalAgent.ControllerTrust.';

/** Permission columns of TR-181 Permission.{i}: "rwxn" strings. */
export type Column = 'Param' | 'Obj' | 'InstantiatedObj' | 'CommandEvent';
export type Right = 'r' | 'w' | 'x' | 'n';
const RIGHT_INDEX: Record<Right, number> = { r: 0, w: 1, x: 2, n: 3 };

interface Rule {
  order: number;
  /** The Targets as written; an object ends with ".". */
  paths: string[];
  targets: ((path: string) => boolean)[];
  cols: Record<Column, string>;
}

export class Access {
  /** Answers already worked out: the same paths come back in every Get. */
  private readonly memo = new Map<string, boolean>();
  /** allowsParams answers by column, right and object path; null: parameter by parameter. */
  private readonly objectMemo = new Map<string, boolean | null>();

  /**
   * @param readsSecured the controller holds a role listed in ControllerTrust.SecuredRoles: it reads
   *   secured parameters' values, where others read "" (TR-181, TP-469 2.27)
   */
  private constructor(
    private readonly rules: Rule[],
    readonly readsSecured: boolean,
  ) {}

  /** The access of the controller with this endpoint id, as the data model says now. */
  static of(dm: DataModel, endpointId: string): Access {
    const ctl = controllerByEndpoint(dm, endpointId);
    const roles = new Set<string>();
    if (ctl) {
      for (const r of listItems(ctl.stored('AssignedRole') ?? '')) roles.add(norm(r));
      for (const r of listItems(ctl.stored('InheritedRole') ?? '')) roles.add(norm(r));
    }
    if (!roles.size) {
      const untrusted = dm.value(`${CT}UntrustedRole`);
      if (untrusted) roles.add(norm(untrusted));
    }
    const rules: Rule[] = [];
    for (const role of roles) {
      const node = dm.node(role);
      if (node?.stored('Enable') !== 'true') continue;
      for (const perm of node.tables.get('Permission')?.rows.values() ?? []) {
        if (perm.stored('Enable') !== 'true') continue;
        const paths = targetPaths(perm.stored('Targets') ?? '');
        rules.push({
          order: Number(perm.stored('Order') ?? 0),
          paths,
          targets: paths.map(matcher),
          cols: {
            Param: perm.stored('Param')!,
            Obj: perm.stored('Obj')!,
            InstantiatedObj: perm.stored('InstantiatedObj')!,
            CommandEvent: perm.stored('CommandEvent')!,
          },
        });
      }
    }
    rules.sort((a, b) => b.order - a.order);
    const secured = new Set(listItems(dm.value(`${CT}SecuredRoles`)).map(norm));
    return new Access(
      rules,
      [...roles].some((r) => secured.has(r)),
    );
  }

  /** Whether the right is granted on an instantiated or supported path ("{i}": an instance not known yet). */
  allows(col: Column, right: Right, path: string): boolean {
    const key = `${col}${right}${path}`;
    let ok = this.memo.get(key);
    if (ok === undefined) {
      ok = this.decide(col, right, path);
      if (this.memo.size > 50_000) this.memo.clear();
      this.memo.set(key, ok);
    }
    return ok;
  }

  /**
   * The right on every parameter of an object at once, or undefined when its parameters must be asked
   * about one by one. A Get reads whole objects, and Permission targets are nearly always objects: when
   * no target names anything below this object, one answer holds for all its parameters, and the
   * parameter paths need not be built and looked up.
   */
  allowsParams(col: Column, right: Right, objectPath: string): boolean | undefined {
    const key = `${col}${right}${objectPath}`;
    let ok = this.objectMemo.get(key);
    if (ok === undefined) {
      const below = this.rules.some((r) => r.paths.some((t) => isBelow(t, objectPath)));
      // No target names anything below this object: a parameter matches a target exactly when the
      // object does, whatever its name, so any name stands for them all.
      ok = below ? null : this.decide(col, right, `${objectPath}\u0000`);
      if (this.objectMemo.size > 50_000) this.objectMemo.clear();
      this.objectMemo.set(key, ok);
    }
    return ok ?? undefined;
  }

  private decide(col: Column, right: Right, path: string): boolean {
    for (const r of this.rules) {
      if (r.targets.some((t) => t(path))) return r.cols[col][RIGHT_INDEX[right]] === right;
    }
    return false;
  }
}

/** Access per controller, worked out once and again only after ControllerTrust or Controller changes. */
export class AccessCache {
  private readonly byEndpoint = new Map<string, Access>();
  private readonly off: () => void;

  constructor(private readonly dm: DataModel) {
    this.off = dm.feed.subscribe([CT, 'Device.LocalAgent.Controller.'], () => this.byEndpoint.clear());
  }

  of(endpointId: string): Access {
    let a = this.byEndpoint.get(endpointId);
    if (!a) {
      a = Access.of(this.dm, endpointId);
      this.byEndpoint.set(endpointId, a);
    }
    return a;
  }

  close(): void {
    this.off();
    this.byEndpoint.clear();
  }
}

const norm = (p: string): string => (p.endsWith('.') ? p : `${p}.`);

/** Targets is a list of partial paths (TR-181 Permission.{i}.Targets). */
function targetPaths(v: string): string[] {
  return listItems(v.replace(/^\[|\]$/g, '').replace(/"/g, '')).filter(Boolean);
}

const segments = (p: string): string[] => (p.endsWith('.') ? p.slice(0, -1) : p).split('.');

/** A target's segment against a path's: "{i}" and "*" match any instance, an instance number only itself. */
const segmentMatches = (want: string, got: string): boolean =>
  want === got || ((want === '*' || want === '{i}') && /^(\d+|\{i\})$/.test(got));

/**
 * Whether a path is the target, or under it when the target is an object (ends with "."). An instance
 * number matches only that instance, so a Permission on one instance leaves its siblings alone.
 */
function matcher(target: string): (path: string) => boolean {
  const partial = target.endsWith('.');
  const want = segments(target);
  return (p) => {
    const got = segments(p);
    if (got.length < want.length || (!partial && got.length !== want.length)) return false;
    return want.every((w, i) => segmentMatches(w, got[i]!));
  };
}

/** Whether a target names something below an object (a sub-object or one of its parameters). */
function isBelow(target: string, objectPath: string): boolean {
  const want = segments(target);
  const got = segments(objectPath);
  return want.length > got.length && got.every((g, i) => segmentMatches(want[i]!, g));
}

/** The two roles every agent starts with: full access, and read with notifications. */
export const PREDEFINED_ROLES = {
  full: { Name: 'Full Access', Param: 'rw-n', Obj: 'rw-n', InstantiatedObj: 'rw-n', CommandEvent: 'r-xn' },
  readOnly: { Name: 'Read Only', Param: 'r--n', Obj: 'r---', InstantiatedObj: 'r--n', CommandEvent: 'r--n' },
} as const;

/** Creates the predefined roles once, at first start; returns their paths. */
export function ensureRoles(dm: DataModel): { full: string; readOnly: string } {
  const out: Record<string, string> = {};
  for (const [key, role] of Object.entries(PREDEFINED_ROLES)) {
    const existing = dm.resolve(`${CT}Role.[Name==${JSON.stringify(role.Name)}].`, {
      kind: 'agent',
      component: 'access',
    })[0];
    if (existing?.kind === 'node') {
      out[key] = existing.node.path;
      continue;
    }
    const path = dm.addInstance(`${CT}Role.`, { Name: role.Name, Enable: 'true' }, 'access');
    const { Name: _n, ...cols } = role;
    dm.addInstance(`${path}Permission.`, { Enable: 'true', Order: '0', Targets: 'Device.', ...cols }, 'access');
    out[key] = path;
  }
  return { full: out.full!, readOnly: out.readOnly! };
}
