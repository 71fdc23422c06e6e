// A job's histogram with a few task items, from its histogram without any (kept per placement):
// pending counts are the level's placed nodes minus those with a task, so only the nodes with a
// task and their ancestors are visited, never the whole level. Ancestors keep, per status bit,
// how many job-level nodes below them carry it, so a task's bits move a few counters up its path
// and an ancestor's OR is read off them. Code order and sample names stay as in a full pass
// (first appearance in tree order). Pure.
import type { NodeTree } from "../model/tree";
import { histogramCode, MONITOR_SAMPLES } from "./histogram-codes";
import { UNTASKED_BITS, type Placement } from "./placement";

/** Bits a node can carry: histogram codes encode 12. */
const BITS = 12;

/** What a placement's histogram without tasks leaves for the delta. */
export interface Baseline {
  /** Position of every node within its level (`tree.byLevel[level]` index). */
  position: Int32Array;
  /** Slot of the first node of each level in `bitCounts` (levels above the job's). */
  levelStart: Int32Array;
  /** Per ancestor slot and bit: job-level nodes below it with that bit, without tasks. */
  bitCounts: Int32Array;
  /** Job-level positions grouped by placement class (each group ascending), and each group's start. */
  byClass: Int32Array;
  classStart: Int32Array;
}

const positions = new WeakMap<NodeTree, Int32Array>();

function positionOf(tree: NodeTree): Int32Array {
  let position = positions.get(tree);
  if (!position) {
    position = new Int32Array(tree.size);
    const kept = position;
    for (const nodes of tree.byLevel) nodes.forEach((node, i) => (kept[node] = i));
    positions.set(tree, kept);
  }
  return position;
}

const bitIndex = (value: number) => 31 - Math.clz32(value);

export function buildBaseline(tree: NodeTree, placement: Placement): Baseline {
  const { level, classes } = placement;
  const position = positionOf(tree);
  const levelStart = new Int32Array(level + 1);
  for (let l = 1; l <= level; l++) levelStart[l] = (levelStart[l - 1] ?? 0) + (tree.byLevel[l - 1]?.length ?? 0);
  const bitCounts = new Int32Array((levelStart[level] ?? 0) * BITS);
  const nodes = tree.byLevel[level] ?? [];
  const classStart = new Int32Array(UNTASKED_BITS.length + 1);
  for (const node of nodes) classStart[(classes[node] ?? 0) + 1] = (classStart[(classes[node] ?? 0) + 1] ?? 0) + 1;
  for (let k = 1; k < classStart.length; k++) classStart[k] = (classStart[k] ?? 0) + (classStart[k - 1] ?? 0);
  const byClass = new Int32Array(nodes.length);
  const next = classStart.slice();
  nodes.forEach((node, i) => {
    const k = classes[node] ?? 0;
    const at = next[k] ?? 0;
    byClass[at] = i;
    next[k] = at + 1;
    // Each untasked value is one bit (UNSTARTED, AVOIDED or DISABLED).
    const bit = bitIndex(UNTASKED_BITS[k] ?? 0);
    for (let a = tree.parentOf[node] ?? -1; a >= 0; a = tree.parentOf[a] ?? -1) {
      const slot = (levelStart[tree.levelOf[a] ?? 0] ?? 0) + (position[a] ?? 0);
      bitCounts[slot * BITS + bit] = (bitCounts[slot * BITS + bit] ?? 0) + 1;
    }
  });
  return { position, levelStart, bitCounts, byClass, classStart };
}

type Counted = [level: string, counts: Record<string, number>, samples: Record<string, string[]>];

/** Counts one level's nodes per value in order of first appearance; `valueOf` is -1 for uncounted nodes. */
function countLevel(tree: NodeTree, l: number, valueOf: (node: number) => number): Counted | null {
  const counts = new Map<number, number>();
  const names = new Map<number, string[]>();
  for (const node of tree.byLevel[l] ?? []) {
    const value = valueOf(node);
    if (value < 0) continue;
    const n = (counts.get(value) ?? 0) + 1;
    counts.set(value, n);
    if (n === 1) names.set(value, []);
    if (n <= MONITOR_SAMPLES) names.get(value)?.push(tree.names.at(node));
  }
  if (counts.size === 0) return null;
  const codes = [...counts.keys()];
  return [
    tree.levels[l] ?? "",
    Object.fromEntries(codes.map((v) => [histogramCode(v), counts.get(v) ?? 0])),
    Object.fromEntries(codes.map((v) => [histogramCode(v), names.get(v) ?? []])),
  ];
}

/**
 * The histogram with `changes` (job-level node -> bits, only where they differ from the node's
 * untasked bits) applied to the baseline.
 */
export function histogramDelta(
  tree: NodeTree,
  placement: Placement,
  baseline: Baseline,
  changes: ReadonlyMap<number, number>,
): { counts: Record<string, Record<string, number>>; samples: Record<string, Record<string, string[]>> } {
  const { level, classes } = placement;
  const { position, levelStart, byClass, classStart } = baseline;
  const bitCounts = baseline.bitCounts.slice();
  const changed = new Map<number, number>(); // job-level position -> bits
  for (const [node, bits] of changes) {
    histogramCode(bits); // refuses bits it cannot encode, as a full pass does
    changed.set(position[node] ?? 0, bits);
    const diff = (UNTASKED_BITS[classes[node] ?? 0] ?? 0) ^ bits;
    for (let a = tree.parentOf[node] ?? -1; a >= 0; a = tree.parentOf[a] ?? -1) {
      const slot = (levelStart[tree.levelOf[a] ?? 0] ?? 0) + (position[a] ?? 0);
      for (let b = 0; b < BITS; b++) {
        if ((diff >> b) & 1)
          bitCounts[slot * BITS + b] = (bitCounts[slot * BITS + b] ?? 0) + ((bits >> b) & 1 ? 1 : -1);
      }
    }
  }
  const levels: Counted[] = [];
  for (let l = 0; l < level; l++) {
    const counted = countLevel(tree, l, (node) => {
      const slot = ((levelStart[l] ?? 0) + (position[node] ?? 0)) * BITS;
      // Untouched (no job-level node below) is told by the baseline: there every node has a bit.
      if (baseline.bitCounts.subarray(slot, slot + BITS).every((n) => n === 0)) return -1;
      let value = 0;
      for (let b = 0; b < BITS; b++) if ((bitCounts[slot + b] ?? 0) > 0) value |= 1 << b;
      return value;
    });
    if (counted) levels.push(counted);
  }
  const own = jobLevelCounts(tree, level, classes, byClass, classStart, changed);
  if (own) levels.push(own);
  return {
    counts: Object.fromEntries(levels.map(([name, counts]) => [name, counts])),
    samples: Object.fromEntries(levels.map(([name, , samples]) => [name, samples])),
  };
}

/**
 * The job level: each untasked group's count less its changed nodes, plus the changed nodes'
 * values; each value's first positions merge its group's unchanged ones (skipping changed
 * ones) with the changed nodes that have it.
 */
function jobLevelCounts(
  tree: NodeTree,
  level: number,
  classes: Uint8Array,
  byClass: Int32Array,
  classStart: Int32Array,
  changed: ReadonlyMap<number, number>,
): Counted | null {
  const nodes = tree.byLevel[level] ?? [];
  if (nodes.length === 0) return null;
  const counts = new Map<number, number>();
  UNTASKED_BITS.forEach((value, k) => counts.set(value, (classStart[k + 1] ?? 0) - (classStart[k] ?? 0)));
  const changedAt = new Map<number, number[]>(); // value -> changed positions, ascending
  for (const at of [...changed.keys()].sort((a, b) => a - b)) {
    const value = changed.get(at) ?? 0;
    const before = UNTASKED_BITS[classes[nodes[at] ?? 0] ?? 0] ?? 0;
    counts.set(before, (counts.get(before) ?? 0) - 1);
    counts.set(value, (counts.get(value) ?? 0) + 1);
    const list = changedAt.get(value);
    if (list) list.push(at);
    else changedAt.set(value, [at]);
  }
  const firsts: { value: number; positions: number[] }[] = [];
  for (const [value, count] of counts) {
    if (count <= 0) continue;
    const positions: number[] = [];
    const k = UNTASKED_BITS.indexOf(value);
    if (k >= 0) {
      for (let i = classStart[k] ?? 0; i < (classStart[k + 1] ?? 0) && positions.length < MONITOR_SAMPLES; i++) {
        const at = byClass[i] ?? 0;
        if (!changed.has(at)) positions.push(at);
      }
    }
    const merged = [...positions, ...(changedAt.get(value) ?? []).slice(0, MONITOR_SAMPLES)].sort((a, b) => a - b);
    firsts.push({ value, positions: merged.slice(0, MONITOR_SAMPLES) });
  }
  firsts.sort((a, b) => (a.positions[0] ?? 0) - (b.positions[0] ?? 0));
  return [
    tree.levels[level] ?? "",
    Object.fromEntries(firsts.map(({ value }) => [histogramCode(value), counts.get(value) ?? 0])),
    Object.fromEntries(
      firsts.map(({ value, positions }) => [
        histogramCode(value),
        positions.map((at) => tree.names.at(nodes[at] ?? 0)),
      ]),
    ),
  ];
}
