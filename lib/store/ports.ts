// The store as ports (ADR 0007): what the scheduler, the API and the worker control plane ask of
// their state, with no word of DynamoDB. Adapters: lib/store/dynamo-store.ts (the real table)
// and lib/store/memory-store.ts (in memory, same semantics; its tasks in memory-tasks.ts);
// test/contract/store-contract.ts is the one suite both must pass. Failures are domain errors
// (lib/store/errors.ts): a lost lease is LeaseLostError, a lost optimistic race ConflictError,
// an unknown caller NotFoundError; no SDK exception crosses a port.
import type { NodeSpec } from "../model/tree";
import type { RunningList, WorkerRecord } from "../model/worker";
import type { EncodedNodes } from "../nodes/codec";
import type { StoredConfig } from "./config-store";
import type { Lease } from "./lease";
import type { NodeSetHead, NodeSetWrite } from "./node-sets";
import type { SchedulerState } from "./scheduler-state";
import type { ChangeEntry } from "./change-sequence";
import type { CounterDrift, CounterUsage } from "./counters";
import type {
  FinishApplyResult,
  FinishWrite,
  StartCommitResult,
  StartWrite,
  TaskItem,
  TaskPage,
  TaskPageQuery,
} from "./tasks";

/** The scheduler lease: one round commits at a time; every takeover raises the fencing epoch. */
export interface LeasePort {
  /** Renews `previous` (same owner and epoch) or takes over a missing or expired lease; null when held by another. */
  acquire(owner: string, nowMs: number, ttlMs: number, previous?: Lease): Promise<Lease | null>;
  /** Asks for another round (a poke); never lost, even while a round holds the lease. */
  markRoundWanted(): Promise<void>;
  /** Clears the wanted mark; LeaseLostError when `lease` is no longer held. */
  clearRoundWanted(lease: Lease): Promise<void>;
  /** Ends the lease unless a round was wanted since it was cleared; false (lease kept, or lost) otherwise. */
  releaseUnlessWanted(lease: Lease): Promise<boolean>;
  /** Ends the lease early; a no-op when it was lost. */
  release(lease: Lease): Promise<void>;
  /** Remembers the wake-up a round scheduled, if `lease` still holds; false otherwise. */
  recordWake(lease: Lease, wakeAtMs: number): Promise<boolean>;
}

/** Versioned config documents; a write names the version it replaces (optimistic concurrency). */
export interface ConfigPort {
  currentVersion(): Promise<number | null>;
  /** The versions still readable, oldest first. */
  listVersions(): Promise<{ version: number; updatedAtMs: number }[]>;
  /** A version (the current one by default); null when there is no such version. */
  get(version?: number): Promise<StoredConfig | null>;
  /** Stores the next version if the current one is `expectedVersion` (null: none yet); ConflictError otherwise. */
  put(document: Record<string, unknown>, expectedVersion: number | null, nowMs: number): Promise<number>;
}

/** Worker registrations; an id changes hands only from an instance that is gone. */
export interface WorkersPort {
  /** Registers; ConflictError while a live instance holds the id. Returns the replaced record, if any. */
  register(record: WorkerRecord, staleBeforeMs: number): Promise<WorkerRecord | undefined>;
  /** NotFoundError when this instance is not (or no longer) registered with that secret. */
  heartbeat(
    id: string,
    instanceId: string,
    secretHash: string,
    nowMs: number,
    running?: RunningList,
  ): Promise<WorkerRecord>;
  /** Marks an instance lost once; false when it was replaced or already marked. */
  markLost(id: string, instanceId: string, nowMs: number): Promise<boolean>;
  get(id: string): Promise<WorkerRecord | undefined>;
  list(): Promise<WorkerRecord[]>;
}

/** Stored node sets: versioned, content-addressed (an equal write changes nothing). */
export interface NodeSetsPort {
  readHead(name: string): Promise<NodeSetHead | null>;
  /** `expectedVersion`: null = none stored, undefined = whatever is stored; ConflictError on a lost race. */
  write(
    name: string,
    nodes: readonly NodeSpec[] | EncodedNodes,
    nowMs: number,
    expectedVersion?: number | null,
  ): Promise<NodeSetWrite>;
  read(name: string): Promise<{ head: NodeSetHead; nodes: NodeSpec[] } | null>;
  readBody(name: string): Promise<{ head: NodeSetHead; body: Buffer } | null>;
}

/** What a round carries to the next, and the change sequence (ADR 0003). */
export interface SchedulerStatePort {
  read(): Promise<SchedulerState>;
  /** Fenced: LeaseLostError once `lease` was taken over. */
  write(lease: Lease, state: SchedulerState): Promise<void>;
  /** The change sequence (0 before the first change). */
  readChangeSequence(): Promise<number>;
  bumpChangeSequence(): Promise<void>;
}

/**
 * Task items, their resource counters and the change log (ADR 0002, 0003). The functions of
 * lib/store/tasks with the table bound. Every write that applies is logged: the change
 * sequence (`SchedulerStatePort.readChangeSequence`) moves on and `readChanges` returns the
 * written states, so a follower holding the items as of sequence s that applies the entries
 * (s, now] (lib/store/tasks/changes.ts) holds what a full read returns.
 */
export interface TasksPort {
  /** Every job that ever had a task started (deleted jobs too), sorted. */
  readJobsWithTasks(): Promise<string[]>;
  /** All items of one job, in node order (by UTF-8 bytes, as the table sorts). */
  readJobTasks(job: string): Promise<TaskItem[]>;
  /** The items of several jobs, in the order of `jobs` (each job's in node order). */
  readTasks(jobs: readonly string[], parallel?: number): Promise<TaskItem[]>;
  /** Items by key, strongly consistent; missing ones are left out, a repeated key read once; no order. */
  getTasks(wanted: readonly { job: string; node: string }[]): Promise<TaskItem[]>;
  /**
   * Marks tasks running for new attempts, under `lease`, taking their charges.
   * - Fenced: LeaseLostError once `lease` was taken over, and nothing of the call is committed
   *   (of a call split into several writes, the ones before stand: their starts were valid).
   * - Each start is conditional on the version the plan read (`expectedVersion`, null: no item);
   *   a task written since, or running, is `rejected` and nothing of it changes.
   * - A counter never passes a limit: a start that would take one past is `rejected` (as may
   *   other starts of the same call charging that counter); the others commit.
   * - A start the store cannot hold (a key empty or over its size limits) is `refused`; the others commit.
   * - ConflictError: a write the store could not settle (conflicts past its retries); nothing of
   *   that write applied.
   * Every requested start comes back in exactly one of committed, rejected and refused.
   * A committed task is `running` at version expected + 1 with the attempt, `lease.round` and
   * `nowMs` recorded, its job in `readJobsWithTasks`.
   */
  commitStarts(lease: Lease, requested: readonly StartWrite[], nowMs: number): Promise<StartCommitResult>;
  /**
   * Ends attempts: the task takes the finish's state and status (version + 1), records the
   * attempt (and token hash) as its last, and the charges are released. A finish applies once
   * and only to its own running attempt, with its token when it names one: a duplicate, a finish
   * of another attempt or with another token is `stale` and changes nothing. A counter holding
   * less than the finish releases refuses it (`refused`: counters need repair).
   * With `lease` (a round ending attempts itself), fenced like commitStarts.
   */
  applyFinishes(finishes: readonly FinishWrite[], lease?: Lease): Promise<FinishApplyResult>;
  /**
   * One page of items of `query.jobs` in (job, node) order, at most `limit`, filtered by node
   * and state; `next` is set when more may follow, and following it visits every match once.
   * A page may end early (even empty, with `next`) after reading `scanBudget` items.
   */
  listTaskPage(query: TaskPageQuery): Promise<TaskPage>;
  /** The resources in use per counter (`node#<name>`, `worker#<name>`); a released counter may stay at 0. */
  readCounters(): Promise<CounterUsage>;
  /**
   * Sets drifted counters (`counterDrift` of what was read and the running tasks' charges) to
   * their expected amounts, each only if it still holds the amount read. False when one no longer
   * did (a release raced the repair): nothing of that write applied, and the caller looks again
   * later. Fenced: LeaseLostError once `lease` was taken over, and nothing changes.
   */
  repairCounters(lease: Lease, drift: readonly CounterDrift[]): Promise<boolean>;
  /** The change entries (after, through], in order; dense while they have not expired. */
  readChanges(after: number, through: number): Promise<ChangeEntry[]>;
}

/** Every port, from one adapter (they share the lease that fences writes, and the change sequence). */
export interface StorePorts {
  lease: LeasePort;
  tasks: TasksPort;
  config: ConfigPort;
  workers: WorkersPort;
  nodeSets: NodeSetsPort;
  schedulerState: SchedulerStatePort;
}
