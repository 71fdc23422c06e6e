// Orphans: running tasks whose node is gone or disabled, or whose job is gone,
// disabled or invalid. Each is killed once it has been an orphan for the job's (else the
// config's) `kill_orphan_tasks_after_sec`; never when that is null.
import { taskId } from "../model/task";
import { jobCanRun, type Config } from "../model/config";
import { anyCopyEnabled, type NodeTree } from "../model/tree";
import type { OrphanTimer, TaskKill, TaskRecord } from "./snapshot";

export interface OrphanOutcome {
  kills: TaskKill[];
  /** Timers of orphans still waiting; orphans killed now or no longer orphaned are forgotten. */
  timers: OrphanTimer[];
}

export function processOrphans(
  config: Config,
  tree: NodeTree,
  tasks: readonly TaskRecord[],
  previousTimers: readonly OrphanTimer[],
  nowSec: number,
): OrphanOutcome {
  const firstSeen = new Map(previousTimers.map((t) => [taskId(t.job, t.node), t.firstSeenSec]));
  const kills: TaskKill[] = [];
  const timers: OrphanTimer[] = [];
  for (const task of tasks) {
    const running = task.running;
    if (!running) continue;
    const reason = orphanReason(config, tree, task);
    if (reason === null) continue;
    const job = config.jobs[task.job];
    const delay = job ? job.killOrphanTasksAfterSec : config.settings.killOrphanTasksAfterSec;
    if (delay === null) continue;
    const since = firstSeen.get(taskId(task.job, task.node)) ?? nowSec;
    if (since + delay > nowSec) {
      timers.push({ job: task.job, node: task.node, firstSeenSec: since });
      continue;
    }
    kills.push({
      job: task.job,
      node: task.node,
      attemptId: running.attemptId,
      workerId: running.workerId,
      request: job ? job.killSubprocess : config.settings.killSubprocess,
      reason: `Orphan: ${reason}`,
    });
  }
  return { kills, timers };
}

/**
 * Why a running task is an orphan, or null if it is not. Only the node itself is checked, not its
 * ancestors; a replicated name is an orphan only when no copy is enabled.
 */
export function orphanReason(config: Config, tree: NodeTree, task: TaskRecord): string | null {
  // A replicated name is an orphan only when no copy is enabled (Bistro).
  if (!tree.indexOf.has(task.node)) return `node ${task.node} was deleted`;
  if (!anyCopyEnabled(tree, task.node)) return `node ${task.node} is disabled`;
  const job = config.jobs[task.job];
  if (!job) return `job ${task.job} was deleted`;
  if (!jobCanRun(job)) return job.enabled ? `job ${task.job} is invalid` : `job ${task.job} is disabled`;
  return null;
}
