// Get: the objects and parameters a path names, as the caller's protocol view shows them (secured
// values blank), one object at a time.

import type { ResolvedObject } from './api-types.js';
import { type Caller, viewOf } from './caller.js';
import { DmError, UspError } from './errors.js';
import type { ModelCore } from './model-core.js';
import { parsePath } from './path.js';
import { subtreeOf } from './resolve.js';
import { visibleIn } from './schema.js';
import { type ObjectNode, paramAt } from './tree.js';

/**
 * Get, one object at a time, each read only when its turn comes: a reader that stops (by throwing,
 * say for an answer grown past what its transport carries) never builds the rest. The path is
 * resolved before the first call, so a path that names nothing throws without any.
 */
export function getEach(
  core: ModelCore,
  path: string,
  caller: Caller,
  maxDepth: number,
  each: (o: ResolvedObject) => void,
): void {
  const parsed = parsePath(path);
  if (parsed.leaf.kind === 'command' || parsed.leaf.kind === 'event') {
    throw new DmError(UspError.InvalidPath, `'${path}' is a ${parsed.leaf.kind}, not an object or parameter`, path);
  }
  const view = viewOf(caller);
  const { targets } = core.resolver.resolve(parsed, view);
  const leaf = parsed.leaf;
  if (leaf.kind === 'param') {
    for (const t of targets) {
      const node = (t as { node: ObjectNode }).node;
      const p = node.def.params.get(leaf.name)!;
      each({ path: node.path, params: { [leaf.name]: p.secured ? '' : core.read(node, p) } });
    }
    return;
  }
  for (const t of targets) {
    const { base, starts } = subtreeOf(t);
    const below = t.kind === 'node' ? 1 : 0;
    const one = (node: ObjectNode): void => {
      if (maxDepth > 0 && node.depthBelow(base) + below > maxDepth) return;
      if (!visibleIn(node.def.spec.only, view)) return;
      each({ path: node.path, params: core.reader.paramsOf(node, view) });
    };
    // Visited, not walked into an array first: a Get allocates what it answers and little else.
    for (const s of starts) s.visit(one);
  }
}

/** One parameter's value by full path, for the agent's own use (secured values included). */
export function valueAt(core: ModelCore, path: string): string {
  const found = paramAt(core.root, path);
  if (!found) throw new DmError(UspError.InvalidPath, `${path} does not exist`, path);
  return core.read(found.node, found.p);
}
