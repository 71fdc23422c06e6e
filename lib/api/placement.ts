// Where a job may run on a node tree, kept warm: for every node down to the job's level,
// whether Bistro's Job::shouldRunOn says yes, AVOIDED (a filter at the node's own level misses)
// or DISABLED (the node or an ancestor is disabled). It depends only on the tree and the filters
// (plus the job's name when a filter keeps a fraction), so jobs with equal filters share one,
// computed once per tree in one top-down pass and kept while the tree is: the API keeps the
// tree of each stored node-set version (lib/api/state.ts), so placements last until the nodes
// or the filters change. Pure.
import type { Job } from "../model/config";
import { StatusBits } from "../model/status";
import type { NodeTree } from "../model/tree";
import { compileFilter, isTrivialFilter, passesNode, type CompiledFilter } from "../scheduler/filters";

/** Per node: `PLACED`, `AVOIDED` or `DISABLED`. */
export const PLACED = 0;
export const AVOIDED = 1;
export const DISABLED = 2;

/** The bits of a node that has no task item, by its placement class. */
export const UNTASKED_BITS: readonly number[] = [StatusBits.UNSTARTED, StatusBits.AVOIDED, StatusBits.DISABLED];

/** The placement bits a task's own status is OR-ed with, by placement class. */
export const PLACEMENT_BITS: readonly number[] = [0, StatusBits.AVOIDED, StatusBits.DISABLED];

export interface Placement {
  /** Index of the job's level in `tree.levels`. */
  readonly level: number;
  /** Class of each node at or above `level` (indexed by node number; deeper nodes are 0). */
  readonly classes: Uint8Array;
  /** Memo slot for what callers derive from the placement alone (the histogram without tasks). */
  derived?: unknown;
}

/** Placements cached per tree, at most about this many bytes per tree (a placement and its baseline: ~6 per node). */
const CACHE_BYTES = 64 * 1024 * 1024;
const cache = new WeakMap<NodeTree, Map<string, Placement>>();

/** The job's level index, or -1 when the tree has no such level (e.g. `worker`). */
export function jobLevel(tree: NodeTree, job: Job): number {
  return tree.levels.indexOf(job.levelForTasks);
}

/** The compiled filters of levels 0..level; null for a level without one (or one that keeps every node). */
function filtersDownTo(tree: NodeTree, job: Job, level: number): (CompiledFilter | null)[] {
  return tree.levels.slice(0, level + 1).map((name) => {
    const filter = Object.hasOwn(job.filters, name) ? job.filters[name] : undefined;
    if (!filter) return null;
    const compiled = compileFilter(filter);
    return isTrivialFilter(compiled) ? null : compiled;
  });
}

/** What the placement depends on: the level, the non-trivial filters, and the name if a fraction is kept. */
function placementKey(tree: NodeTree, job: Job, level: number, filters: readonly (CompiledFilter | null)[]): string {
  const used = filters.flatMap((filter, i) => {
    const name = tree.levels[i] ?? "";
    return filter ? [[name, job.filters[name]]] : [];
  });
  const byName = filters.some((filter) => filter?.fractionCutoff !== null && filter !== null);
  return JSON.stringify([level, used, byName ? job.name : null]);
}

/**
 * The job's placement on the tree (cached). Throws for a job whose level the tree lacks, and,
 * like the round, for a filter regex that does not compile.
 */
export function placementOf(tree: NodeTree, job: Job): Placement {
  const level = jobLevel(tree, job);
  if (level < 0) throw new RangeError(`The node tree has no level ${job.levelForTasks}`);
  const filters = filtersDownTo(tree, job, level);
  const key = placementKey(tree, job, level, filters);
  let placements = cache.get(tree);
  if (!placements) cache.set(tree, (placements = new Map<string, Placement>()));
  const cached = placements.get(key);
  if (cached) return cached;
  if ((placements.size + 1) * tree.size * 6 > CACHE_BYTES) placements.clear();
  const placement: Placement = { level, classes: computeClasses(tree, job.name, level, filters) };
  placements.set(key, placement);
  return placement;
}

/**
 * Top down, so each node reads its parent's class: walking up from a node, the first disabled
 * node disables it and the first filter miss avoids it, a node's own checks coming first.
 */
function computeClasses(
  tree: NodeTree,
  jobName: string,
  level: number,
  filters: readonly (CompiledFilter | null)[],
): Uint8Array {
  const classes = new Uint8Array(tree.size);
  for (let l = 0; l <= level; l++) {
    const filter = filters[l] ?? null;
    for (const node of tree.byLevel[l] ?? []) {
      if (tree.enabled[node] !== 1) classes[node] = DISABLED;
      else if (filter && !passesNode(filter, jobName, tree.names.at(node), tree.tags[node] ?? [])) {
        classes[node] = AVOIDED;
      } else classes[node] = node === 0 ? PLACED : (classes[tree.parentOf[node] ?? 0] ?? PLACED);
    }
  }
  return classes;
}

/** Every copy at `level` of the named node (one for most names; none when the level has no such name). */
export function copiesAt(tree: NodeTree, name: string, level: number): readonly number[] {
  const copies = tree.replicas.get(name);
  if (copies) return copies.filter((node) => tree.levelOf[node] === level);
  const node = tree.indexOf.get(name);
  return node !== undefined && tree.levelOf[node] === level ? [node] : [];
}
