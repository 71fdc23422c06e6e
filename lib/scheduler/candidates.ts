// Candidate generation: the order of each level's nodes, and for one job the
// nodes of its level it may start on now: not running, done, failed or backing off (per the
// task index); no disabled node on the path to the instance; every level's filter passed;
// dependencies done.
import type { Job, NodeOrder } from "../model/config";
import type { NodeTree } from "../model/tree";
import { passesNode, type CompiledFilter } from "./filters";
import { shuffleInPlace, type Rng } from "./random";
import { TASK_DONE, TASK_ELIGIBLE } from "./task-index";

// Local copies: under tsx and Jest an imported binding is a getter call, too slow per node.
const ELIGIBLE = TASK_ELIGIBLE;
const DONE = TASK_DONE;

const lexicographicOrders = new WeakMap<NodeTree, Map<number, Int32Array>>();

/** The level's nodes in the configured `node_order`; `random` is a fresh shuffle each call. */
export function levelOrder(tree: NodeTree, level: number, order: NodeOrder, rng: Rng): Int32Array {
  const nodes = tree.byLevel[level] ?? new Int32Array(0);
  if (order === "original") return nodes.slice();
  if (order === "random") return shuffleInPlace(nodes.slice(), rng);
  // Sorting a large level costs more than the rest of a round, and trees are immutable: memoize.
  let byLevel = lexicographicOrders.get(tree);
  if (!byLevel) lexicographicOrders.set(tree, (byLevel = new Map<number, Int32Array>()));
  let sorted = byLevel.get(level);
  if (!sorted) {
    // Each name is made a string once, not once per comparison.
    const named = Array.from(nodes, (node) => ({ node, name: tree.names.at(node) }));
    named.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    byLevel.set(level, (sorted = Int32Array.from(named, (entry) => entry.node)));
  }
  return sorted;
}

const disabledByTree = new WeakMap<NodeTree, Uint8Array>();

/** 1 for every node that is disabled or has a disabled ancestor (memoized: trees are immutable; read only). */
export function disabledOnPath(tree: NodeTree): Uint8Array {
  let disabled = disabledByTree.get(tree);
  if (!disabled) disabledByTree.set(tree, (disabled = rejectedOnPath(tree, tree.levels.length - 1, [], "")));
  return disabled;
}

const rejectedByJob = new WeakMap<NodeTree, WeakMap<Job, Uint8Array>>();

/**
 * `rejectedOnPath` for a job's own filters, memoized per tree and job object: a warm process
 * keeps both while the node set and config version stand, and a million nodes' filter checks
 * (regexes, hashes) then run once, not every round. Read only.
 */
export function rejectedForJob(
  tree: NodeTree,
  job: Job,
  maxLevel: number,
  filters: readonly (CompiledFilter | null)[],
): Uint8Array {
  let byJob = rejectedByJob.get(tree);
  if (!byJob) rejectedByJob.set(tree, (byJob = new WeakMap()));
  let rejected = byJob.get(job);
  if (!rejected) byJob.set(job, (rejected = rejectedOnPath(tree, maxLevel, filters, job.name)));
  return rejected;
}

/**
 * 1 for every node (down to `maxLevel`) that is disabled, fails the job's filter of its own
 * level, or has an ancestor that does (Bistro's `shouldRunOn` != Yes).
 */
export function rejectedOnPath(
  tree: NodeTree,
  maxLevel: number,
  filters: readonly (CompiledFilter | null)[],
  jobName: string,
): Uint8Array {
  const rejected = new Uint8Array(tree.size);
  const { parentOf, enabled, names, tags } = tree;
  const none = new Int32Array(0);
  for (let level = 0; level <= maxLevel; level++) {
    const filter = filters[level] ?? null;
    for (const node of tree.byLevel[level] ?? none) {
      const parent = parentOf[node] as number;
      const bad =
        (parent >= 0 && rejected[parent] === 1) ||
        enabled[node] !== 1 ||
        (filter !== null && !passesNode(filter, jobName, names.at(node), tags[node] ?? []));
      if (bad) rejected[node] = 1;
    }
  }
  return rejected;
}

/**
 * One job's candidates: the nodes of its level, in the level's order, that are neither rejected
 * nor blocked and whose every dependency is done on the same node (state codes as `indexTasks`
 * makes them). Policies take them from the end of that order. One sequential pass over the
 * level's nodes (the hot loop of a round) counts them and marks them in a byte per node; they
 * are then found lazily in the order, one byte read each, so a round pays for the order walk of
 * the candidates it tries, not of all of them: at a million nodes per job, most rounds try few.
 * Nothing the checks read changes during the policy phase, so the nodes taken are exactly the
 * list an eager pass would have built, in the same order.
 */
export class CandidateList {
  /** Candidates not taken yet. */
  length: number;
  private cursor: number;
  /** 1 for each candidate node. */
  private readonly mask: Uint8Array;

  constructor(
    readonly slot: number,
    readonly priority: number,
    private readonly order: Int32Array,
    rejected: Uint8Array,
    codes: Uint8Array,
    dependencies: readonly Uint8Array[],
    private readonly levelNodes: Int32Array,
    treeSize: number,
  ) {
    this.mask = new Uint8Array(treeSize);
    this.length = markCandidates(levelNodes, rejected, codes, dependencies, this.mask);
    this.cursor = order.length;
  }

  /** The next candidate from the end of the order; call only while `length > 0`. */
  take(): number {
    const { order, mask } = this;
    while (this.cursor > 0) {
      const node = order[--this.cursor] as number;
      if (mask[node] === 1) {
        this.length--;
        return node;
      }
    }
    throw new Error("CandidateList.take past the last candidate");
  }

  /** Drops the candidates not taken yet. */
  discard(): void {
    this.length = 0;
    this.cursor = 0;
  }

  /**
   * Takes every candidate left and returns how many of them pass `test`. The count does not
   * depend on order, so it is made in sequential passes: all candidates, less those taken before.
   */
  countRest(test: (node: number) => boolean): number {
    const { levelNodes, order, mask } = this;
    let count = 0;
    for (let k = 0; k < levelNodes.length; k++) {
      const node = levelNodes[k] as number;
      if (mask[node] === 1 && test(node)) count++;
    }
    for (let k = this.cursor; k < order.length; k++) {
      const node = order[k] as number;
      if (mask[node] === 1 && test(node)) count--;
    }
    this.discard();
    return count;
  }
}

/** Marks in `mask` (all 0) which of `levelNodes` pass the candidate checks; returns how many. */
function markCandidates(
  levelNodes: Int32Array,
  rejected: Uint8Array,
  codes: Uint8Array,
  dependencies: readonly Uint8Array[],
  mask: Uint8Array,
): number {
  const depCount = dependencies.length;
  let count = 0;
  if (depCount === 0) {
    for (let k = 0; k < levelNodes.length; k++) {
      const node = levelNodes[k] as number;
      if (rejected[node] === 0 && codes[node] === ELIGIBLE) {
        mask[node] = 1;
        count++;
      }
    }
    return count;
  }
  outer: for (let k = 0; k < levelNodes.length; k++) {
    const node = levelNodes[k] as number;
    if (rejected[node] !== 0 || codes[node] !== ELIGIBLE) continue;
    for (let d = 0; d < depCount; d++) {
      if ((dependencies[d] as Uint8Array)[node] !== DONE) continue outer;
    }
    mask[node] = 1;
    count++;
  }
  return count;
}
