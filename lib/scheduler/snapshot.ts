// The data a scheduling round reads and writes. In: the config, the node tree, every (job, node)
// with a status or a running attempt, the workers, and the state carried between rounds (orphan
// timers, worker cursors). Out: the plan. Plain data, so the store can fill and commit them.
import type { Config, KillRequest, ResourceAmounts } from "../model/config";
import type { BackoffStep, TaskStatus } from "../model/status";
import type { NodeTree } from "../model/tree";

/** Resources a task holds on one node it uses (its node, an ancestor, or its worker). */
export interface NodeUsage {
  node: string;
  /** The node's level; `worker` for the worker the task runs on. */
  level: string;
  /** Every resource of that level, with the amount the task holds (0 included, as Bistro records). */
  resources: ResourceAmounts;
}

/** A started attempt (Bistro's RunningTask). */
export interface RunningTask {
  attemptId: string;
  workerId: string;
  startTimeSec: number;
  /** The amounts recorded at start; the round charges these, not the current config. */
  usage: NodeUsage[];
  /** The backoff this attempt takes if it reports an error (computed at start). */
  nextBackoff: BackoffStep;
}

/** One (job, node) that has started at least once; pairs with no record are pending. */
export interface TaskRecord {
  job: string;
  node: string;
  /** The last status the task ended with (kept while a new attempt runs: it is the attempt's `prev_status`). */
  status?: TaskStatus;
  running?: RunningTask;
}

export type WorkerState = "new" | "healthy" | "unhealthy" | "must_die";

export interface WorkerSnapshot {
  /** The worker's shard id: its node name at the `worker` level. */
  id: string;
  hostname: string;
  state: WorkerState;
  /** Capacity per worker-level resource after `worker_resources_override`; missing ones use the level limit. */
  capacity: ResourceAmounts;
  /**
   * The ECS RunTask launcher, not a worker: it takes the tasks of jobs with a `container` key, and
   * only those; other jobs never go to it.
   */
  containerLauncher?: boolean;
}

/** When the round first saw a running task as an orphan. */
export interface OrphanTimer {
  job: string;
  node: string;
  firstSeenSec: number;
}

/** The roundrobin worker selector's position: the id of the worker to try first, per pool. */
export interface WorkerCursors {
  /** The pool of all workers. */
  all: string | null;
  /** Pools of the workers on one hostname (host placement). */
  byHost: Record<string, string>;
}

export interface RoundSnapshot {
  config: Config;
  tree: NodeTree;
  tasks: TaskRecord[];
  /**
   * Done tasks given apart from `tasks` (a warm state holds most tasks this way): per job name,
   * one byte per node of `tree`, TASK_DONE (lib/scheduler/task-index.ts) where the job is done on
   * that node, else 0. A pair is in `tasks` or here, not both. Read only.
   */
  done?: ReadonlyMap<string, Uint8Array>;
  workers: WorkerSnapshot[];
  orphanTimers: OrphanTimer[];
  workerCursors: WorkerCursors;
}

/** A kill the round decided on: the running attempt and how to stop it. */
export interface TaskKill {
  job: string;
  node: string;
  attemptId: string;
  workerId: string;
  request: KillRequest;
  reason: string;
}

/** A task the round decided to start, with everything the commit and the task JSON need. */
export interface TaskStart {
  job: string;
  node: string;
  workerId: string;
  workerHost: string;
  /** What to record and charge: the task node and ancestors whose level has resources, then the worker. */
  usage: NodeUsage[];
  nextBackoff: BackoffStep;
  /** Task JSON `path_to_node`: instance first. */
  pathToNode: string[];
  /** Task JSON `resources_by_node`. */
  resourcesByNode: Record<string, ResourceAmounts>;
  /** The status the task ended with last time (task JSON `prev_status`), if any. */
  previous?: TaskStatus;
}

/** Why something did not run, for people. */
export interface PlanReason {
  job?: string;
  message: string;
}

export interface PlanStats {
  /** (job, node) pairs examined: each runnable job times the nodes of its level. */
  candidatesEvaluated: number;
  /** Candidates that passed the status, filter and dependency checks. */
  candidates: number;
  /** Candidates a policy tried to start. */
  tried: number;
  /** Tasks running when the round began (after fail-over). */
  running: number;
}

export interface Plan {
  starts: TaskStart[];
  kills: TaskKill[];
  orphanTimers: OrphanTimer[];
  workerCursors: WorkerCursors;
  reasons: PlanReason[];
  stats: PlanStats;
  /** Bistro's loop delay: `working_wait` when a task runs or was started, else `idle_wait`. */
  nextRoundInSec: number;
}
