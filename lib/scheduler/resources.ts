// Resource accounting for one round: free amounts per node and per
// worker, as flat Float64Arrays indexed by number so the admission test of a candidate walks
// its ancestors without touching a string. Running tasks are charged what they recorded.
import { WORKER_LEVEL, type Job, type ResourceAmounts, type Settings } from "../model/config";
import type { NodeTree } from "../model/tree";
import type { NodeUsage, TaskRecord, WorkerSnapshot } from "./snapshot";

/**
 * Free amounts for a round. A job's needs are one Float64Array laid out like the levels: the
 * resources of tree level L start at `levelStart[L]`, the worker's at `workerStart`.
 */
export class ResourceBook {
  /** Resource names of each tree level, in config order. */
  readonly levelNames: readonly (readonly string[])[];
  readonly levelCount: Int32Array;
  readonly levelStart: Int32Array;
  readonly workerNames: readonly string[];
  readonly workerStart: number;
  readonly needWidth: number;
  /** Per node: where its free amounts start in `free`; -1 if its level has no resources. */
  readonly nodeOffset: Int32Array;
  readonly free: Float64Array;
  /** Worker w's free amounts start at `w * workerNames.length`. */
  readonly workerFree: Float64Array;
  private readonly defaults: Float64Array;

  constructor(
    settings: Settings,
    private readonly tree: NodeTree,
    workers: readonly WorkerSnapshot[],
  ) {
    const levelNames = tree.levels.map((level) => Object.keys(settings.resources[level] ?? {}));
    this.levelNames = levelNames;
    this.levelCount = Int32Array.from(levelNames, (names) => names.length);
    this.levelStart = new Int32Array(levelNames.length);
    let width = 0;
    for (let level = 0; level < levelNames.length; level++) {
      this.levelStart[level] = width;
      width += this.levelCount[level] ?? 0;
    }
    const workerSpecs = settings.resources[WORKER_LEVEL] ?? {};
    this.workerNames = Object.keys(workerSpecs);
    this.workerStart = width;
    this.needWidth = width + this.workerNames.length;

    this.defaults = new Float64Array(this.needWidth);
    const limits: Float64Array[] = [];
    for (let level = 0; level < levelNames.length; level++) {
      const specs = settings.resources[tree.levels[level] ?? ""] ?? {};
      const names = levelNames[level] ?? [];
      limits.push(Float64Array.from(names, (name) => specs[name]?.limit ?? 0));
      names.forEach((name, i) => (this.defaults[(this.levelStart[level] ?? 0) + i] = specs[name]?.default ?? 0));
    }
    this.workerNames.forEach((name, i) => (this.defaults[width + i] = workerSpecs[name]?.default ?? 0));

    this.nodeOffset = new Int32Array(tree.size);
    let slots = 0;
    for (let node = 0; node < tree.size; node++) {
      const count = this.levelCount[tree.levelOf[node] as number] as number;
      this.nodeOffset[node] = count > 0 ? slots : -1;
      slots += count;
    }
    // Replicas share their first copy's amounts, as in Bistro (a task is per name, whatever the copy).
    for (const copies of tree.replicas.values()) {
      for (const copy of copies) this.nodeOffset[copy] = this.nodeOffset[copies[0] as number] as number;
    }
    this.free = new Float64Array(slots);
    for (let node = 0; node < tree.size; node++) {
      const offset = this.nodeOffset[node] as number;
      if (offset < 0) continue;
      const levelLimits = limits[tree.levelOf[node] as number] as Float64Array;
      for (let i = 0; i < levelLimits.length; i++) this.free[offset + i] = levelLimits[i] as number;
    }

    const perWorker = this.workerNames.length;
    this.workerFree = new Float64Array(workers.length * perWorker);
    workers.forEach((worker, w) => {
      this.workerNames.forEach((name, i) => {
        this.workerFree[w * perWorker + i] = worker.capacity[name] ?? workerSpecs[name]?.limit ?? 0;
      });
    });
  }

  /**
   * Subtracts what running tasks recorded, whatever their job or node (deleted ones included).
   * Names the config no longer has, and unknown nodes or workers, are skipped as in Bistro.
   */
  chargeRunning(tasks: readonly TaskRecord[], workerIndex: ReadonlyMap<string, number>): void {
    for (const task of tasks) {
      if (!task.running) continue;
      for (const usage of task.running.usage) this.chargeUsage(usage, workerIndex);
    }
  }

  private chargeUsage(usage: NodeUsage, workerIndex: ReadonlyMap<string, number>): void {
    if (usage.level === WORKER_LEVEL) {
      const w = workerIndex.get(usage.node);
      if (w === undefined) return;
      this.subtractNamed(this.workerFree, w * this.workerNames.length, this.workerNames, usage.resources);
      return;
    }
    const node = this.tree.indexOf.get(usage.node);
    if (node === undefined) return;
    const offset = this.nodeOffset[node] ?? -1;
    if (offset < 0) return;
    this.subtractNamed(this.free, offset, this.levelNames[this.tree.levelOf[node] ?? 0] ?? [], usage.resources);
  }

  private subtractNamed(target: Float64Array, offset: number, names: readonly string[], amounts: ResourceAmounts) {
    for (let i = 0; i < names.length; i++) {
      const amount = amounts[names[i] as string];
      if (amount !== undefined) target[offset + i] = (target[offset + i] as number) - amount;
    }
  }

  /** A job's amount of every resource: its own where it sets one, else the level default. */
  needOf(job: Job): Float64Array {
    const need = Float64Array.from(this.defaults);
    const setFrom = (names: readonly string[], start: number) => {
      names.forEach((name, i) => {
        const amount = job.resources[name];
        if (amount !== undefined) need[start + i] = amount;
      });
    };
    this.levelNames.forEach((names, level) => {
      setFrom(names, this.levelStart[level] ?? 0);
    });
    setFrom(this.workerNames, this.workerStart);
    return need;
  }

  /**
   * Admission on the task node and every ancestor: no amount above what is free. The
   * instance (node 0) is checked first: every candidate shares it, and a busy cluster fills it
   * first, so a saturated round rejects candidates without touching their own nodes.
   */
  fitsNodes(need: Float64Array, node: number): boolean {
    if (!this.fitsOne(need, 0)) return false;
    const parentOf = this.tree.parentOf;
    for (let n = node; n > 0; n = parentOf[n] as number) {
      if (!this.fitsOne(need, n)) return false;
    }
    return true;
  }

  private fitsOne(need: Float64Array, node: number): boolean {
    const offset = this.nodeOffset[node] as number;
    if (offset < 0) return true;
    const level = this.tree.levelOf[node] as number;
    const count = this.levelCount[level] as number;
    const start = this.levelStart[level] as number;
    const free = this.free;
    for (let i = 0; i < count; i++) {
      if ((need[start + i] as number) > (free[offset + i] as number)) return false;
    }
    return true;
  }

  takeNodes(need: Float64Array, node: number): void {
    const { parentOf, levelOf } = this.tree;
    for (let n = node; n >= 0; n = parentOf[n] as number) {
      const offset = this.nodeOffset[n] as number;
      if (offset < 0) continue;
      const level = levelOf[n] as number;
      const start = this.levelStart[level] as number;
      for (let i = 0; i < (this.levelCount[level] as number); i++) {
        this.free[offset + i] = (this.free[offset + i] as number) - (need[start + i] as number);
      }
    }
  }

  fitsWorker(need: Float64Array, worker: number): boolean {
    const count = this.workerNames.length;
    const offset = worker * count;
    for (let i = 0; i < count; i++) {
      if ((need[this.workerStart + i] as number) > (this.workerFree[offset + i] as number)) return false;
    }
    return true;
  }

  /** What the worker would have left after the task, weighted (the `busiest` selector's score). */
  workerRemainingWeight(need: Float64Array, worker: number, weights: Float64Array): number {
    const count = this.workerNames.length;
    let total = 0;
    for (let i = 0; i < count; i++) {
      const left = (this.workerFree[worker * count + i] as number) - (need[this.workerStart + i] as number);
      total += left * (weights[i] as number);
    }
    return total;
  }

  takeWorker(need: Float64Array, worker: number): void {
    const count = this.workerNames.length;
    for (let i = 0; i < count; i++) {
      const at = worker * count + i;
      this.workerFree[at] = (this.workerFree[at] as number) - (need[this.workerStart + i] as number);
    }
  }

  /** The usage a started task records: its node and ancestors whose level has resources, then its worker. */
  usageOf(need: Float64Array, node: number, workerId: string): NodeUsage[] {
    const usage: NodeUsage[] = [];
    const { parentOf, levelOf, names, levels } = this.tree;
    for (let n = node; n >= 0; n = parentOf[n] as number) {
      const level = levelOf[n] as number;
      const levelNames = this.levelNames[level] ?? [];
      if (levelNames.length === 0) continue;
      usage.push({
        node: names.at(n),
        level: levels[level] ?? "",
        resources: this.amounts(levelNames, need, this.levelStart[level] ?? 0),
      });
    }
    if (this.workerNames.length > 0) {
      usage.push({
        node: workerId,
        level: WORKER_LEVEL,
        resources: this.amounts(this.workerNames, need, this.workerStart),
      });
    }
    return usage;
  }

  private amounts(names: readonly string[], need: Float64Array, start: number): ResourceAmounts {
    const amounts: ResourceAmounts = {};
    names.forEach((name, i) => (amounts[name] = need[start + i] ?? 0));
    return amounts;
  }
}
