// Indexing a round's task records by (job slot, node number): each pair's state code (may
// run, blocked, done) and record, plus the list of running attempts. This touches every
// record, so it is built for speed: one name lookup and one typed-array write per record.
import { StatusBits, isInBackoff } from "../model/status";
import type { NodeTree } from "../model/tree";
import type { TaskRecord } from "./snapshot";

/** Per (job, node) state codes: may run; may not run now; done (satisfies dependents); running. */
export const TASK_ELIGIBLE = 0;
export const TASK_BLOCKED = 1;
export const TASK_DONE = 2;
export const TASK_RUNNING = 3;

// Local copies: under tsx and Jest an imported binding is a getter call, too slow per record.
const { DONE, FAILED } = StatusBits;
const inBackoff = isInBackoff;

/** Whether a task record allows a start now (incomplete, never-started and not-running errors do). */
export function taskStateCode(record: TaskRecord, nowSec: number): number {
  if (record.running) return TASK_RUNNING;
  const status = record.status;
  if (!status) return TASK_ELIGIBLE;
  if (status.bits & DONE) return TASK_DONE;
  if (status.bits & FAILED || inBackoff(status, nowSec)) return TASK_BLOCKED;
  return TASK_ELIGIBLE;
}

export interface TaskIndex {
  /** Per job slot (undefined for a job without records): each node's state code. */
  codes: (Uint8Array | undefined)[];
  /**
   * Per job slot: node -> record index, only for eligible pairs that have a record (their
   * previous status goes into the start). Blocked and done pairs never start, so they need none.
   */
  eligibleRecords: (Map<number, number> | undefined)[];
  /** Indices of the records with a running attempt, whatever their job or node. */
  running: number[];
}

/**
 * Reads every record once. The name lookups, bound by memory latency at 100k nodes, run first
 * in a loop of their own, whose independent iterations overlap their cache misses (this halved
 * the pass in measurements); then one byte per record is written.
 */
export function indexTasks(
  tasks: readonly TaskRecord[],
  slotOf: ReadonlyMap<string, number>,
  tree: NodeTree,
  nowSec: number,
  done?: ReadonlyMap<string, Uint8Array>,
): TaskIndex {
  const nodeOf = tree.indexOf;
  const nodes = new Int32Array(tasks.length);
  for (let i = 0; i < tasks.length; i++) nodes[i] = nodeOf.get((tasks[i] as TaskRecord).node) ?? -1;

  const index: TaskIndex = { codes: [], eligibleRecords: [], running: [] };
  // Done tasks given as codes start each job's column (a copy: replicas and records write to it).
  if (done) {
    for (const [job, slot] of slotOf) {
      const doneCodes = done.get(job);
      if (!doneCodes) continue;
      if (doneCodes.length !== tree.size) throw new Error(`Done codes of job ${job} are not over this tree`);
      index.codes[slot] = doneCodes.slice();
    }
  }
  // Stores list a job's records together, so the job is looked up once per run of them.
  let lastJob: string | null = null;
  let slot: number | undefined;
  let codes: Uint8Array | undefined;
  for (let i = 0; i < tasks.length; i++) {
    const task = tasks[i] as TaskRecord;
    if (task.running) index.running.push(i);
    if (task.job !== lastJob) {
      lastJob = task.job;
      slot = slotOf.get(task.job);
      codes = slot === undefined ? undefined : (index.codes[slot] ??= new Uint8Array(tree.size));
    }
    const node = nodes[i] as number;
    if (codes === undefined || slot === undefined || node < 0) continue;
    // If a pair is listed twice, a running attempt wins: it must never be started again.
    if (codes[node] === TASK_RUNNING) continue;
    const code = taskStateCode(task, nowSec);
    codes[node] = code;
    if (code === TASK_ELIGIBLE) (index.eligibleRecords[slot] ??= new Map()).set(node, i);
    else index.eligibleRecords[slot]?.delete(node);
  }
  if (tree.replicas.size > 0) copyToReplicas(index, tree);
  return index;
}

/** A task is per name: every copy of a replicated name gets its first copy's code and record. */
function copyToReplicas(index: TaskIndex, tree: NodeTree): void {
  for (const copies of tree.replicas.values()) {
    const first = copies[0] as number;
    for (const [slot, codes] of index.codes.entries()) {
      if (!codes) continue;
      const record = index.eligibleRecords[slot]?.get(first);
      for (const copy of copies) {
        codes[copy] = codes[first] as number;
        if (record !== undefined) index.eligibleRecords[slot]?.set(copy, record);
      }
    }
  }
}
