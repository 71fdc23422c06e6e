// The node tree: the instance node, the configured data levels below it, each node with one
// parent in the level above. Stored as parallel arrays indexed by node number so a round can
// walk a million nodes without allocating; names map to numbers through `indexOf`.
import { INSTANCE_LEVEL } from "./config";

/** A node as node sources produce it. */
export interface NodeSpec {
  name: string;
  /** Level name; must be one of the configured levels. */
  level: string;
  /** Parent node name; must be at the level just above (the instance node for the top level). */
  parent: string;
  enabled?: boolean;
  tags?: string[];
}

export class NodeTreeError extends Error {
  override readonly name = "NodeTreeError";
}

export interface NodeTree {
  /** `["instance", ...configured levels]` (the worker level is not part of the tree). */
  readonly levels: readonly string[];
  readonly size: number;
  readonly names: readonly string[];
  /** Level index of each node (0 = instance). */
  readonly levelOf: Int32Array;
  /** Parent node number, -1 for the instance node (node 0). */
  readonly parentOf: Int32Array;
  readonly enabled: readonly boolean[];
  readonly tags: readonly (readonly string[])[];
  /** Node numbers of each level, in the order the sources produced them. */
  readonly byLevel: readonly (readonly number[])[];
  /** A name's node number (its first copy's, for a replicated name). */
  readonly indexOf: ReadonlyMap<string, number>;
  /**
   * Bistro's replicas: names given to several nodes of one level under different parents, with
   * every copy's number. A task is per name: its copies share the name's resources, and it is an
   * orphan only when no copy is enabled. Empty for most trees.
   */
  readonly replicas: ReadonlyMap<string, readonly number[]>;
}

/**
 * Builds a tree from node specs. Specs must list parents before children (node sources do). A
 * name may repeat at one level (a replica); a child naming a replicated parent hangs under the
 * parent's copy whose rank matches the child spec's rank among equal (name, parent) specs, which
 * is how sources list them (once per parent copy). The instance node is node 0.
 */
export function buildNodeTree(levels: readonly string[], instanceName: string, specs: readonly NodeSpec[]): NodeTree {
  // Most trees have no replicas and are built in one pass; the first repeated name restarts the
  // build knowing which names repeat, so children find the right copy of their parent.
  return (
    buildTree(levels, instanceName, specs, null) ??
    (buildTree(levels, instanceName, specs, repeated(specs)) as NodeTree)
  );
}

function repeated(specs: readonly NodeSpec[]): Set<string> {
  const seen = new Set<string>();
  const names = new Set<string>();
  for (const spec of specs) {
    if (seen.has(spec.name)) names.add(spec.name);
    else seen.add(spec.name);
  }
  return names;
}

/** The tree, or null (when `replicated` is null) on meeting a repeated name. */
function buildTree(
  levels: readonly string[],
  instanceName: string,
  specs: readonly NodeSpec[],
  replicated: ReadonlySet<string> | null,
): NodeTree | null {
  const allLevels = [INSTANCE_LEVEL, ...levels];
  const levelIndex = new Map(allLevels.map((level, i) => [level, i]));
  const size = specs.length + 1;
  const names: string[] = [instanceName];
  const levelOf = new Int32Array(size);
  const parentOf = new Int32Array(size);
  const enabled: boolean[] = [true];
  const tags: (readonly string[])[] = [[]];
  const byLevel: number[][] = allLevels.map(() => []);
  const indexOf = new Map<string, number>([[instanceName, 0]]);
  const replicas = new Map<string, number[]>();
  const pairRank = new Map<string, number>();
  parentOf[0] = -1;
  byLevel[0]?.push(0);
  for (const spec of specs) {
    const level = levelIndex.get(spec.level);
    if (level === undefined || level === 0) {
      throw new NodeTreeError(`Node ${spec.name} has unknown level ${spec.level}`);
    }
    const index = names.length;
    const first = indexOf.get(spec.name);
    if (first !== undefined) {
      if (replicated === null) return null;
      if (first === 0 || levelOf[first] !== level) {
        throw new NodeTreeError(`Node ${spec.name} is defined at two levels (replicas must share a level)`);
      }
    }
    if (replicated?.has(spec.name)) {
      const copies = replicas.get(spec.name);
      if (copies) copies.push(index);
      else replicas.set(spec.name, [index]);
    }
    let parent: number | undefined;
    const parentCopies = replicas.get(spec.parent);
    if (parentCopies) {
      // The k-th child spec of a (name, parent) pair hangs under the parent's k-th copy.
      const pair = `${spec.name}\u0000${spec.parent}`;
      const rank = pairRank.get(pair) ?? 0;
      pairRank.set(pair, rank + 1);
      parent = parentCopies[Math.min(rank, parentCopies.length - 1)];
    } else {
      parent = indexOf.get(spec.parent);
    }
    if (parent === undefined) throw new NodeTreeError(`Node ${spec.name} has unknown parent ${spec.parent}`);
    if (levelOf[parent] !== level - 1) {
      throw new NodeTreeError(`Node ${spec.name} at level ${spec.level} has parent ${spec.parent} not one level up`);
    }
    names.push(spec.name);
    levelOf[index] = level;
    parentOf[index] = parent;
    enabled.push(spec.enabled ?? true);
    tags.push(spec.tags ? [...spec.tags].sort() : []);
    byLevel[level]?.push(index);
    if (first === undefined) indexOf.set(spec.name, index);
  }
  return { levels: allLevels, size, names, levelOf, parentOf, enabled, tags, byLevel, indexOf, replicas };
}

/** Whether any copy of the named node is enabled (false when there is no such node). */
export function anyCopyEnabled(tree: NodeTree, name: string): boolean {
  const copies = tree.replicas.get(name);
  if (copies) return copies.some((node) => tree.enabled[node] === true);
  const node = tree.indexOf.get(name);
  return node !== undefined && tree.enabled[node] === true;
}

/** Names from the instance down to the node (Bistro's `path_to_node`). */
export function pathToNode(tree: NodeTree, node: number): string[] {
  const path: string[] = [];
  for (let n = node; n >= 0; n = tree.parentOf[n] ?? -1) path.push(tree.names[n] ?? "");
  return path.reverse();
}
