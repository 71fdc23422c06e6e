// Bistro's job histograms (Monitor.cpp): for each node of a job's level, the
// status bits (AVOIDED / DISABLED from the path to the instance, UNSTARTED when it could run
// and has no status, USES_BACKOFF kept only while the backoff lasts) are OR-ed into the node
// and every ancestor; each level then counts nodes per bit combination, with a few sample
// names. Codes are Bistro's two-character base64url-style encoding (./histogram-codes.ts). Pure.
import type { Job } from "../model/config";
import { isInBackoff, StatusBits, type TaskStatus } from "../model/status";
import type { NodeTree } from "../model/tree";
import { histogramCode, MONITOR_SAMPLES } from "./histogram-codes";
import { buildBaseline, histogramDelta, type Baseline } from "./histogram-delta";
import { copiesAt, jobLevel, PLACED, PLACEMENT_BITS, placementOf, UNTASKED_BITS, type Placement } from "./placement";

export { decodeHistogramCode, HISTOGRAM_ALPHABET, histogramCode, MONITOR_SAMPLES } from "./histogram-codes";

/** What the histogram needs of a task item. */
export interface HistogramTask {
  running: boolean;
  status?: TaskStatus;
}

export interface JobHistogram {
  /** level -> code -> number of nodes. */
  counts: Record<string, Record<string, number>>;
  /** level -> code -> up to `MONITOR_SAMPLES` node names, in tree order. */
  samples: Record<string, Record<string, string[]>>;
}

/** A task's bits on a node of the given placement class: its own status, or UNSTARTED where it may run. */
function taskBits(placementClass: number, task: HistogramTask, nowSec: number): number {
  let status = placementClass === PLACED ? StatusBits.UNSTARTED : 0;
  if (task.running) {
    status = StatusBits.RUNNING;
  } else if (task.status) {
    // The monitor reads USES_BACKOFF as "in backoff right now".
    status = isInBackoff(task.status, nowSec) ? task.status.bits : task.status.bits & ~StatusBits.USES_BACKOFF;
  }
  return (PLACEMENT_BITS[placementClass] ?? 0) | status;
}

/**
 * Bits by node number (a scratch array of the tree's size): each node of the job's level gets
 * its placement's bits, and those with a task item the task's bits on top. Tasks are looked up
 * by name, so every copy of a replicated name gets its task.
 */
function levelBits(
  tree: NodeTree,
  placement: Placement,
  tasks: ReadonlyMap<string, HistogramTask>,
  nowSec: number,
): Int32Array {
  const bits = new Int32Array(tree.size);
  const { level, classes } = placement;
  for (const node of tree.byLevel[level] ?? []) bits[node] = UNTASKED_BITS[classes[node] ?? 0] ?? 0;
  for (const [name, task] of tasks) {
    for (const node of copiesAt(tree, name, level)) bits[node] = taskBits(classes[node] ?? 0, task, nowSec);
  }
  return bits;
}

/**
 * The bits of each node of a job's level (tree indexes, in tree order): placement
 * (AVOIDED / DISABLED), then UNSTARTED, RUNNING or the task's status bits. Empty when the
 * job's level has no nodes.
 */
export function taskNodeBits(
  tree: NodeTree,
  job: Job,
  tasks: ReadonlyMap<string, HistogramTask>,
  nowSec: number,
): { nodes: Int32Array; bits: Int32Array } {
  const level = jobLevel(tree, job);
  const nodes = (level < 0 ? undefined : tree.byLevel[level]) ?? new Int32Array(0);
  if (nodes.length === 0) return { nodes, bits: new Int32Array(0) };
  const byNode = levelBits(tree, placementOf(tree, job), tasks, nowSec);
  return { nodes, bits: Int32Array.from(nodes, (node) => byNode[node] ?? 0) };
}

/** Jobs with tasks on more than this share of their level's nodes get a full pass, which is then cheaper. */
export const DELTA_SHARE = 0.25;

interface Derived {
  histogram: JobHistogram;
  baseline: Baseline;
}

/**
 * One job's histogram. `tasks` maps node names of the job's level to their task items (nodes
 * without one are pending). A job whose level has no nodes gets empty maps, as in Bistro. The
 * placement is cached per tree (lib/api/placement.ts), and with it the histogram without
 * tasks, which jobs with equal filters share: a job without task items costs a copy of a few
 * counts, one with a few costs its tasks' paths (./histogram-delta.ts), and one with tasks on
 * more than `deltaShare` of its level one pass over the level and its ancestors.
 */
export function jobHistogram(
  tree: NodeTree,
  job: Job,
  tasks: ReadonlyMap<string, HistogramTask>,
  nowSec: number,
  deltaShare = DELTA_SHARE,
): JobHistogram {
  if (jobLevel(tree, job) < 0) return { counts: {}, samples: {} };
  const placement = placementOf(tree, job);
  const { level, classes } = placement;
  const levelSize = tree.byLevel[level]?.length ?? 0;
  const changes = new Map<number, number>();
  for (const [name, task] of tasks) {
    for (const node of copiesAt(tree, name, level)) {
      const bits = taskBits(classes[node] ?? 0, task, nowSec);
      if (bits !== UNTASKED_BITS[classes[node] ?? 0]) changes.set(node, bits);
    }
  }
  if (changes.size > levelSize * deltaShare) {
    return countLevels(tree, level, levelBits(tree, placement, tasks, nowSec));
  }
  placement.derived ??= {
    histogram: countLevels(tree, level, levelBits(tree, placement, new Map(), nowSec)),
    baseline: buildBaseline(tree, placement),
  } satisfies Derived;
  const derived = placement.derived as Derived;
  if (changes.size === 0) return copyHistogram(derived.histogram);
  return histogramDelta(tree, placement, derived.baseline, changes);
}

function copyHistogram(histogram: JobHistogram): JobHistogram {
  const copy = <T>(byLevel: Record<string, Record<string, T>>, value: (v: T) => T) =>
    Object.fromEntries(
      Object.entries(byLevel).map(([level, byCode]) => [
        level,
        Object.fromEntries(Object.entries(byCode).map(([code, v]) => [code, value(v)])),
      ]),
    );
  return { counts: copy(histogram.counts, (n) => n), samples: copy(histogram.samples, (names) => [...names]) };
}

/**
 * OR-s the job level's bits into every ancestor (level by level, bottom up, each node once),
 * then counts each level's nodes per code in tree order, keeping the first sample names. Only
 * nodes with a descendant at the job's level are counted. `bits` is used as scratch.
 */
function countLevels(tree: NodeTree, level: number, bits: Int32Array): JobHistogram {
  const touched = new Uint8Array(tree.size);
  for (const node of tree.byLevel[level] ?? []) touched[node] = 1;
  for (let l = level; l > 0; l--) {
    for (const node of tree.byLevel[l] ?? []) {
      if (touched[node] !== 1) continue;
      const parent = tree.parentOf[node] ?? 0;
      bits[parent] = (bits[parent] ?? 0) | (bits[node] ?? 0);
      touched[parent] = 1;
    }
  }
  // Maps, then Object.fromEntries: level names come from users and may be "__proto__".
  const counts: [string, Record<string, number>][] = [];
  const samples: [string, Record<string, string[]>][] = [];
  const countOf = new Int32Array(64 * 64);
  const namesOf: string[][] = [];
  for (let l = 0; l <= level; l++) {
    const seen: number[] = []; // bit sets in order of first appearance
    for (const node of tree.byLevel[l] ?? []) {
      if (touched[node] !== 1) continue;
      const value = bits[node] ?? 0;
      if ((countOf[value] ?? 0) === 0) {
        histogramCode(value); // refuses bits it cannot encode
        seen.push(value);
        namesOf[value] = [];
      }
      const n = (countOf[value] = (countOf[value] ?? 0) + 1);
      if (n <= MONITOR_SAMPLES) namesOf[value]?.push(tree.names.at(node));
    }
    if (seen.length === 0) continue;
    const levelName = tree.levels[l] ?? "";
    counts.push([levelName, Object.fromEntries(seen.map((v) => [histogramCode(v), countOf[v] ?? 0]))]);
    samples.push([levelName, Object.fromEntries(seen.map((v) => [histogramCode(v), namesOf[v] ?? []]))]);
    for (const value of seen) countOf[value] = 0;
  }
  return { counts: Object.fromEntries(counts), samples: Object.fromEntries(samples) };
}
