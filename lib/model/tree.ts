// The node tree: the instance node, the configured data levels below it, each node with one
// parent in the level above. Stored as columns indexed by node number (typed arrays, and the
// names as one byte column) so a round can walk a million nodes without allocating and the
// tree holds almost nothing on the JS heap; names map to numbers through `indexOf`.
import { INSTANCE_LEVEL } from "./config";
import { hashName, NameIndex } from "./name-index";
import { NodeNames } from "./node-names";

export { NodeNames } from "./node-names";

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
  /** Node names by node number, read with `names.at(n)` (a string is made per read). */
  readonly names: NodeNames;
  /** Level index of each node (0 = instance). */
  readonly levelOf: Int32Array;
  /** Parent node number, -1 for the instance node (node 0). */
  readonly parentOf: Int32Array;
  /** 1 where the node is enabled, 0 where not (a byte per node: a million nodes cost 1 MB). */
  readonly enabled: Uint8Array;
  /** Sorted tags per node; sparse (absent = no tags), so read it as `tree.tags[n] ?? []`. */
  readonly tags: readonly (readonly string[])[];
  /** Node numbers of each level, in the order the sources produced them. */
  readonly byLevel: readonly Int32Array[];
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
export function buildNodeTree(levels: readonly string[], instanceName: string, specs: Iterable<NodeSpec>): NodeTree {
  const builder = new NodeTreeBuilder(levels, instanceName);
  for (const spec of specs) builder.add(spec);
  return builder.finish();
}

/**
 * Builds a tree one node at a time, without holding the specs: a million nodes cost their
 * names, a few typed arrays and a compact name index. Each `add` checks the node's place
 * (level, parent, replicas) and throws NodeTreeError naming what is wrong.
 */
export class NodeTreeBuilder {
  readonly levels: readonly string[];
  private readonly levelNumbers: ReadonlyMap<string, number>;
  private readonly names = new NodeNames();
  private levelOf = new Int32Array(1024);
  private parentOf = new Int32Array(1024);
  private enabled = new Uint8Array(1024).fill(1, 0, 1);
  /** Sparse: untagged nodes have no entry (readers default to no tags). */
  private readonly tags: (readonly string[])[] = [];
  /** Node numbers per level, each column `levelCounts[level]` long (with room to grow). */
  private readonly byLevel: Int32Array[];
  private readonly levelCounts: number[];
  private readonly index: NameIndex;
  private readonly replicas = new Map<string, number[]>();
  private readonly pairRank = new Map<string, number>();
  private lastParent: string | undefined;
  private lastParentNode: number | undefined;

  constructor(levels: readonly string[], instanceName: string) {
    this.levels = [INSTANCE_LEVEL, ...levels];
    this.levelNumbers = new Map(this.levels.map((level, i) => [level, i]));
    this.names.push(instanceName);
    this.index = new NameIndex(this.names);
    this.index.addFirst(0);
    this.parentOf[0] = -1;
    this.byLevel = this.levels.map(() => new Int32Array(16));
    this.levelCounts = this.levels.map((_, level) => (level === 0 ? 1 : 0));
  }

  /** Nodes added so far, the instance node included. */
  get size(): number {
    return this.names.length;
  }

  /** Names of the nodes added so far at a level (by name), in order; empty for an unknown level. */
  namesAt(level: string): string[] {
    const number = this.levelNumbers.get(level);
    if (number === undefined) return [];
    const nodes = this.byLevel[number] as Int32Array;
    return Array.from({ length: this.levelCounts[number] as number }, (_, i) => this.names.at(nodes[i] as number));
  }

  /** Adds one node; throws NodeTreeError when it does not fit the tree. Returns its node number. */
  add(spec: NodeSpec): number {
    const level = this.levelNumbers.get(spec.level);
    if (level === undefined || level === 0) {
      throw new NodeTreeError(`Node ${spec.name} has unknown level ${spec.level}`);
    }
    const node = this.names.length;
    const hash = hashName(spec.name);
    const first = this.index.get(spec.name, hash);
    if (first !== undefined && this.levelOf[first] !== level) {
      throw new NodeTreeError(
        `Node ${spec.name} is defined at levels ${this.levelOf[first]} and ${level}; a name may repeat only within one level`,
      );
    }
    let parent: number | undefined;
    const parentCopies = this.replicas.get(spec.parent);
    if (parentCopies) {
      // The k-th child spec of a (name, parent) pair hangs under the parent's k-th copy.
      const pair = `${spec.name}\u0000${spec.parent}`;
      const rank = this.pairRank.get(pair) ?? 0;
      this.pairRank.set(pair, rank + 1);
      parent = parentCopies[Math.min(rank, parentCopies.length - 1)];
    } else if (spec.parent === this.lastParent) {
      parent = this.lastParentNode; // sources list siblings together: one lookup per parent
    } else {
      parent = this.index.get(spec.parent);
      this.lastParent = spec.parent;
      this.lastParentNode = parent;
    }
    if (parent === undefined) throw new NodeTreeError(`Node ${spec.name} has unknown parent ${spec.parent}`);
    if (this.levelOf[parent] !== level - 1) {
      throw new NodeTreeError(
        `Node ${spec.name} at level ${spec.level} has parent ${spec.parent}, which is not one level up`,
      );
    }
    if (node === this.levelOf.length) this.growColumns();
    this.names.push(spec.name);
    this.levelOf[node] = level;
    this.parentOf[node] = parent;
    this.enabled[node] = spec.enabled === false ? 0 : 1;
    if (spec.tags && spec.tags.length > 0) this.tags[node] = [...spec.tags].sort();
    this.pushAtLevel(level, node);
    if (first === undefined) {
      this.index.addFirst(node, hash);
    } else {
      const copies = this.replicas.get(spec.name);
      if (copies) copies.push(node);
      else this.becomesReplicated(spec.name, first, node, level);
    }
    return node;
  }

  /**
   * A name's second copy arrived: children already listed under the first copy count towards
   * their (name, parent) rank, so the next child of that name goes under the second copy. Only
   * the nodes of the child level added since the first copy are looked at.
   */
  private becomesReplicated(name: string, first: number, second: number, level: number): void {
    this.replicas.set(name, [first, second]);
    const below = this.byLevel[level + 1] ?? new Int32Array(0);
    for (let i = (this.levelCounts[level + 1] ?? 0) - 1; i >= 0 && (below[i] as number) > first; i--) {
      const child = below[i] as number;
      if (this.parentOf[child] !== first) continue;
      const pair = `${this.names.at(child)}\u0000${name}`;
      this.pairRank.set(pair, (this.pairRank.get(pair) ?? 0) + 1);
    }
  }

  private pushAtLevel(level: number, node: number): void {
    let nodes = this.byLevel[level] as Int32Array;
    const count = this.levelCounts[level] as number;
    if (count === nodes.length) {
      const bigger = new Int32Array(nodes.length * 2);
      bigger.set(nodes);
      this.byLevel[level] = nodes = bigger;
    }
    nodes[count] = node;
    this.levelCounts[level] = count + 1;
  }

  private growColumns(): void {
    const levelOf = new Int32Array(this.levelOf.length * 2);
    levelOf.set(this.levelOf);
    this.levelOf = levelOf;
    const parentOf = new Int32Array(this.parentOf.length * 2);
    parentOf.set(this.parentOf);
    this.parentOf = parentOf;
    const enabled = new Uint8Array(this.enabled.length * 2);
    enabled.set(this.enabled);
    this.enabled = enabled;
  }

  finish(): NodeTree {
    const size = this.names.length;
    return {
      levels: this.levels,
      size,
      names: this.names.trim(),
      levelOf: this.levelOf.slice(0, size),
      parentOf: this.parentOf.slice(0, size),
      enabled: this.enabled.slice(0, size),
      tags: this.tags,
      byLevel: this.byLevel.map((nodes, level) => nodes.slice(0, this.levelCounts[level])),
      indexOf: this.index,
      replicas: this.replicas,
    };
  }
}

/** Whether any copy of the named node is enabled (false when there is no such node). */
export function anyCopyEnabled(tree: NodeTree, name: string): boolean {
  const copies = tree.replicas.get(name);
  if (copies) return copies.some((node) => tree.enabled[node] === 1);
  const node = tree.indexOf.get(name);
  return node !== undefined && tree.enabled[node] === 1;
}

/** Names from the instance down to the node (Bistro's `path_to_node`). */
export function pathToNode(tree: NodeTree, node: number): string[] {
  const path: string[] = [];
  for (let n = node; n >= 0; n = tree.parentOf[n] ?? -1) path.push(tree.names.at(n));
  return path.reverse();
}
