// What a round is given (its dependencies) and what it reports.
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { SendResult } from "../dispatch/sqs";
import type { Config } from "../model/config";
import type { NodeSourceRegistry } from "../nodes";
import type { Rng } from "../scheduler/random";
import type { Plan, PlanReason } from "../scheduler/snapshot";
import type { DueTimer } from "../scheduler/timers";
import type { StoreContext } from "../store/context";
import type { Lease } from "../store/lease";
import type { CheckpointStore } from "./checkpoint";
import type { ContainerLauncher } from "./container-dispatch";
import type { NodeRefreshTimings, NodeTreeCache } from "./node-refresh";
import type { RoundStatusLog } from "./round-status-log";
import type { TaskCache } from "./task-cache";
import type { RoundWaker, WakeOutcome } from "./wake";
import { BISTRO_WORKER_TIMINGS, type WorkerTimings } from "../scheduler/worker-health";

export interface RoundDeps {
  store: StoreContext;
  sqs: SQSClient;
  /** Milliseconds since the epoch. */
  clock: () => number;
  rng: Rng;
  /** Lease owner: unique per process (or Lambda invocation). */
  owner: string;
  /** Name of the instance node (Bistro's --instance_node_name). */
  instanceName: string;
  /** Node sources; default the deployment's (built-ins and `pushed`). */
  nodeSources?: NodeSourceRegistry;
  /** Nodes refresh period and retry; default Bistro's 300 s and 30 s. */
  nodeTimings?: NodeRefreshTimings;
  /** Decoded node tree kept across rounds by a warm process. */
  nodeCache?: NodeTreeCache;
  timings?: WorkerTimings;
  /**
   * How long after its start order was sent an attempt may be missing from its live worker's
   * heartbeat list before the round ends it as lost. Default: heartbeat period + grace (75 s).
   */
  unknownAttemptGraceMs?: number;
  leaseTtlMs?: number;
  /** A full round runs at least this often even when rounds find nothing changed (default 30 min). */
  maxIdleMs?: number;
  /** Sends bodies to one queue; replaced in tests to inject failures. */
  send?: (queueUrl: string, bodies: string[]) => Promise<SendResult>;
  /** Called between planning and committing; tests use it to pause a round. */
  beforeCommit?: (plan: Plan) => Promise<void>;
  /** Task items kept across rounds by a warm process (lib/round/task-cache.ts). */
  taskCache?: TaskCache;
  /** Checkpoints of the warm task state (lib/round/checkpoint.ts); without it a cold process reads every task item. */
  checkpoints?: CheckpointStore;
  /** The read time of the newest checkpoint this process wrote or loaded (kept with `taskCache`). */
  checkpointAtMs?: number;
  /** Parsed-config cache kept across rounds by a warm process. */
  cache?: { version: number; config: Config };
  log?: (event: Record<string, unknown>) => void;
  /** Called after each round, as it ends. */
  onRound?: (report: RoundReport) => void;
  /** Runs (stops, checks) the tasks of jobs with a `container` key as ECS tasks; without it such jobs do not run. */
  containers?: ContainerLauncher;
  /** Writes the `statuses` lines of attempts the round ended unseen; without it they are only in the task's status. */
  statusLog?: RoundStatusLog;
  /** Sends the wake-up for the round's earliest timer (lib/round/wake.ts); without it only the backstop wakes rounds. */
  waker?: RoundWaker;
}

export interface RoundReport {
  round: number;
  started: { job: string; node: string; attempt: string; worker: string }[];
  /** Starts the commit refused (their state changed since the snapshot); re-planned next round. */
  refused: number;
  /** Starts the store refused outright (e.g. a key over its size limit): recorded as errors with backoff. */
  storeRefused: { job: string; node: string; reason: string }[];
  killed: number;
  /** Start orders of earlier, interrupted rounds sent again. */
  resent: number;
  lostWorkers: string[];
  /** Running attempts their live worker did not list past the grace: ended as errors (lost ends). */
  unknownAttempts: { job: string; node: string; attempt: string; worker: string }[];
  /** Counter amounts found to disagree with running tasks, and set right. */
  repairedCounters: number;
  reasons: PlanReason[];
  nextRoundInSec: number;
  candidatesEvaluated: number;
  /** The nodes refresh this round ran, if one was due. */
  nodes?: { changed: boolean; bytesWritten: number; count: number; error: string | null };
  /**
   * The demand workers scale on, as the round leaves it: tasks that could start now but did not
   * (no worker had room, or there are no workers), and tasks running.
   */
  backlog: { runnablePending: number; running: number };
  /** The earliest timer after this round and what was done about it. */
  wake?: DueTimer & { outcome: WakeOutcome };
  /** Wall time of the round, from its snapshot to its wake-up (what a Lambda bills). */
  durationMs?: number;
}

/** A report of round `round` in which nothing happened yet. */
export function emptyRoundReport(round: number, nextRoundInSec: number): RoundReport {
  return {
    round,
    started: [],
    refused: 0,
    storeRefused: [],
    killed: 0,
    resent: 0,
    lostWorkers: [],
    unknownAttempts: [],
    repairedCounters: 0,
    reasons: [],
    nextRoundInSec,
    candidatesEvaluated: 0,
    backlog: { runnablePending: 0, running: 0 },
  };
}

/** What every step of one round shares. */
export interface RoundContext {
  deps: RoundDeps;
  lease: Lease;
  nowMs: number;
  nowSec: number;
  timings: WorkerTimings;
  unknownGraceMs: number;
  report: RoundReport;
}

/** The context of a round about to run under `lease`, with an empty report. */
export function roundContext(deps: RoundDeps, lease: Lease): RoundContext {
  const nowMs = deps.clock();
  const timings = deps.timings ?? BISTRO_WORKER_TIMINGS;
  return {
    deps,
    lease,
    nowMs,
    nowSec: nowMs / 1000,
    timings,
    unknownGraceMs: deps.unknownAttemptGraceMs ?? (timings.heartbeatPeriodSec + timings.heartbeatGraceSec) * 1000,
    report: emptyRoundReport(lease.round, 5),
  };
}
