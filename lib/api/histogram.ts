// Bistro's job histograms (Monitor.cpp): for each node of a job's level, the
// status bits (AVOIDED / DISABLED from the path to the instance, UNSTARTED when it could run
// and has no status, USES_BACKOFF kept only while the backoff lasts) are OR-ed into the node
// and every ancestor; each level then counts nodes per bit combination, with a few sample
// names. Codes are Bistro's two-character base64url-style encoding. Pure.
import type { Job } from "../model/config";
import { isInBackoff, StatusBits, type TaskStatus } from "../model/status";
import type { NodeTree } from "../model/tree";
import { compileFilter, passesNode, type CompiledFilter } from "../scheduler/filters";

/** Bistro's code alphabet (bistro/py/task_bits.py). */
export const HISTOGRAM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** Bistro keeps at most this many sample names per (level, code) (`--monitor_samples`). */
export const MONITOR_SAMPLES = 10;

/** `ALPHA[bits & 63]`, then `ALPHA[bits >> 6]` only when that is not zero. */
export function histogramCode(bits: number): string {
  if (!Number.isInteger(bits) || bits < 0 || bits >= 64 * 64) throw new RangeError(`Cannot encode bits ${bits}`);
  const low = HISTOGRAM_ALPHABET.charAt(bits & 63);
  return bits >> 6 ? low + HISTOGRAM_ALPHABET.charAt(bits >> 6) : low;
}

/** The bits of a histogram code (for clients and tests). */
export function decodeHistogramCode(code: string): number {
  const low = HISTOGRAM_ALPHABET.indexOf(code.charAt(0));
  const high = code.length > 1 ? HISTOGRAM_ALPHABET.indexOf(code.charAt(1)) : 0;
  if (low < 0 || high < 0 || code.length === 0 || code.length > 2 || (code.length === 2 && high === 0)) {
    throw new RangeError(`Not a histogram code: ${code}`);
  }
  return low | (high << 6);
}

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

type ShouldRun = "yes" | "avoided" | "disabled";

/** Bistro's Job::shouldRunOn: walk up; a disabled node disables, a filter miss at its own level avoids. */
function shouldRunOn(tree: NodeTree, node: number, job: Job, filters: readonly (CompiledFilter | null)[]): ShouldRun {
  for (let n = node; n >= 0; n = tree.parentOf[n] ?? -1) {
    if (tree.enabled[n] !== true) return "disabled";
    const filter = filters[tree.levelOf[n] ?? 0] ?? null;
    if (filter && !passesNode(filter, job.name, tree.names[n] ?? "", tree.tags[n] ?? [])) return "avoided";
  }
  return "yes";
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
): { nodes: readonly number[]; bits: Int32Array } {
  const level = tree.levels.indexOf(job.levelForTasks);
  const nodes = level < 0 ? [] : (tree.byLevel[level] ?? []);
  const bits = new Int32Array(nodes.length);
  const filters = tree.levels.map((name) => {
    const filter = Object.hasOwn(job.filters, name) ? job.filters[name] : undefined;
    return filter ? compileFilter(filter) : null;
  });
  nodes.forEach((node, i) => {
    const decision = shouldRunOn(tree, node, job, filters);
    const placement = decision === "avoided" ? StatusBits.AVOIDED : decision === "disabled" ? StatusBits.DISABLED : 0;
    let status: number = decision === "yes" ? StatusBits.UNSTARTED : 0;
    const task = tasks.get(tree.names[node] ?? "");
    if (task?.running) {
      status = StatusBits.RUNNING;
    } else if (task?.status) {
      // The monitor reads USES_BACKOFF as "in backoff right now".
      status = isInBackoff(task.status, nowSec) ? task.status.bits : task.status.bits & ~StatusBits.USES_BACKOFF;
    }
    bits[i] = placement | status;
  });
  return { nodes, bits };
}

/**
 * One job's histogram. `tasks` maps node names of the job's level to their task items (nodes
 * without one are pending). A job whose level has no nodes gets empty maps, as in Bistro.
 */
export function jobHistogram(
  tree: NodeTree,
  job: Job,
  tasks: ReadonlyMap<string, HistogramTask>,
  nowSec: number,
): JobHistogram {
  const histogram: JobHistogram = { counts: {}, samples: {} };
  if (!tree.levels.includes(job.levelForTasks)) return histogram;
  const own = taskNodeBits(tree, job, tasks, nowSec);
  const bits = new Int32Array(tree.size);
  const touched = new Uint8Array(tree.size);
  own.nodes.forEach((node, i) => {
    for (let n = node; n >= 0; n = tree.parentOf[n] ?? -1) {
      bits[n] = (bits[n] ?? 0) | (own.bits[i] ?? 0);
      touched[n] = 1;
    }
  });
  // Maps, then Object.fromEntries: level names come from users and may be "__proto__".
  const counts = new Map<string, Map<string, number>>();
  const samples = new Map<string, Map<string, string[]>>();
  for (const [index, nodes] of tree.byLevel.entries()) {
    const levelName = tree.levels[index] ?? "";
    for (const node of nodes) {
      if (touched[node] !== 1) continue;
      const code = histogramCode(bits[node] ?? 0);
      let levelCounts = counts.get(levelName);
      let levelSamples = samples.get(levelName);
      if (!levelCounts || !levelSamples) {
        counts.set(levelName, (levelCounts = new Map<string, number>()));
        samples.set(levelName, (levelSamples = new Map<string, string[]>()));
      }
      levelCounts.set(code, (levelCounts.get(code) ?? 0) + 1);
      const names = levelSamples.get(code) ?? [];
      if (names.length < MONITOR_SAMPLES) names.push(tree.names[node] ?? "");
      levelSamples.set(code, names);
    }
  }
  histogram.counts = Object.fromEntries([...counts].map(([level, byCode]) => [level, Object.fromEntries(byCode)]));
  histogram.samples = Object.fromEntries([...samples].map(([level, byCode]) => [level, Object.fromEntries(byCode)]));
  return histogram;
}
