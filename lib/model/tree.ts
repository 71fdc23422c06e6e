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
  readonly indexOf: ReadonlyMap<string, number>;
}

/**
 * Builds a tree from node specs. Specs must list parents before children (node sources do);
 * a name may appear once. The instance node is node 0.
 */
export function buildNodeTree(levels: readonly string[], instanceName: string, specs: readonly NodeSpec[]): NodeTree {
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
  parentOf[0] = -1;
  byLevel[0]?.push(0);
  for (const spec of specs) {
    const level = levelIndex.get(spec.level);
    if (level === undefined || level === 0) {
      throw new NodeTreeError(`Node ${spec.name} has unknown level ${spec.level}`);
    }
    if (indexOf.has(spec.name)) throw new NodeTreeError(`Node ${spec.name} is defined twice`);
    const parent = indexOf.get(spec.parent);
    if (parent === undefined) throw new NodeTreeError(`Node ${spec.name} has unknown parent ${spec.parent}`);
    if (levelOf[parent] !== level - 1) {
      throw new NodeTreeError(`Node ${spec.name} at level ${spec.level} has parent ${spec.parent} not one level up`);
    }
    const index = names.length;
    names.push(spec.name);
    levelOf[index] = level;
    parentOf[index] = parent;
    enabled.push(spec.enabled ?? true);
    tags.push(spec.tags ? [...spec.tags].sort() : []);
    byLevel[level]?.push(index);
    indexOf.set(spec.name, index);
  }
  return { levels: allLevels, size, names, levelOf, parentOf, enabled, tags, byLevel, indexOf };
}

/** Names from the instance down to the node (Bistro's `path_to_node`). */
export function pathToNode(tree: NodeTree, node: number): string[] {
  const path: string[] = [];
  for (let n = node; n >= 0; n = tree.parentOf[n] ?? -1) path.push(tree.names[n] ?? "");
  return path.reverse();
}
