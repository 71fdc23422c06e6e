// Starts the store refused outright, as the round sees them: each refusal is matched back to its
// (job, node) in the current tree, planned with the error status recorded for it (so it backs
// off like any failed attempt, and fails once the ladder is exhausted), and replaced or dropped
// as the round goes. Jobs and nodes that are gone take their refusals with them.
import type { Config } from "../model/config";
import type { NodeTree } from "../model/tree";
import { taskId } from "../model/task";
import { finishTask } from "../scheduler/backoff";
import type { TaskRecord } from "../scheduler/snapshot";
import { errorBackoff } from "../scheduler/status";
import {
  MAX_REFUSED_TASKS,
  REFUSAL_REASON_CHARS,
  REFUSED_NODE_PREFIX_CHARS,
  refusalMatches,
  refusedTask,
  type RefusedTask,
} from "../store/refused-tasks";
import type { StartWrite } from "../store/tasks";

export interface LiveRefusal {
  refusal: RefusedTask;
  node: string;
}

/** The refusals whose job is configured and whose node is in the tree, with the full node name. */
export function liveRefusals(refusals: readonly RefusedTask[], config: Config, tree: NodeTree): LiveRefusal[] {
  const live: LiveRefusal[] = [];
  for (const refusal of refusals) {
    if (!Object.hasOwn(config.jobs, refusal.job)) continue;
    let node: string | undefined;
    if (refusal.nodeLength <= REFUSED_NODE_PREFIX_CHARS) {
      node = tree.indexOf.has(refusal.nodePrefix) ? refusal.nodePrefix : undefined;
    } else {
      for (const name of tree.names) {
        if (!refusalMatches(refusal, refusal.job, name)) continue;
        node = name;
        break;
      }
    }
    if (node !== undefined) live.push({ refusal, node });
  }
  return live;
}

/**
 * The round's task records with each refusal's status applied: a task without an item gets a
 * record; an idle one takes the refusal's status when it is the newer one.
 */
export function withRefusals(records: readonly TaskRecord[], live: readonly LiveRefusal[]): TaskRecord[] {
  if (live.length === 0) return [...records];
  const byTask = new Map(records.map((record) => [taskId(record.job, record.node), record]));
  for (const { refusal, node } of live) {
    const id = taskId(refusal.job, node);
    const record = byTask.get(id);
    if (!record) byTask.set(id, { job: refusal.job, node, status: refusal.status });
    else if (!record.running && (record.status?.timeSec ?? -1) <= refusal.status.timeSec) {
      byTask.set(id, { ...record, status: refusal.status });
    }
  }
  return [...byTask.values()];
}

/**
 * The refusals to keep after a commit: live ones, minus tasks that have now started, plus the
 * starts the store refused this round (an error with the attempt's backoff).
 */
export function nextRefusals(
  live: readonly LiveRefusal[],
  records: readonly TaskRecord[],
  committed: readonly StartWrite[],
  refused: readonly { start: StartWrite; reason: string }[],
  nowSec: number,
): RefusedTask[] {
  const started = new Set(committed.map((s) => taskId(s.job, s.node)));
  const replaced = new Set(refused.map(({ start }) => taskId(start.job, start.node)));
  // Only the refused starts' records are looked up: build no id for the others.
  const statusOf = new Map<string, TaskRecord["status"]>();
  if (replaced.size > 0) {
    for (const record of records) {
      const id = taskId(record.job, record.node);
      if (replaced.has(id)) statusOf.set(id, record.status);
    }
  }
  const kept = live
    .filter(({ refusal, node }) => !started.has(taskId(refusal.job, node)) && !replaced.has(taskId(refusal.job, node)))
    .map(({ refusal }) => refusal);
  const added = refused.map(({ start, reason }) => {
    const status = finishTask({
      previous: statusOf.get(taskId(start.job, start.node)),
      nextBackoff: start.nextBackoff,
      reported: errorBackoff(`The store refused this task's start: ${reason.slice(0, REFUSAL_REASON_CHARS)}`),
      nowSec,
    });
    return refusedTask(start.job, start.node, start.attempt, reason, status);
  });
  return [...kept, ...added].slice(-MAX_REFUSED_TASKS);
}
