// What a task item is, in the round's terms and as stored (ADR 0002): a task item exists only
// for a (job, node) that started, finished or backs off; pending tasks are implied.
import type { BackoffStep, TaskStatus } from "../../model/status";
import type { TaskState } from "../../model/task";

/** Resources a task holds on one counter (a data node or a worker). */
export interface CounterCharge {
  /** The node's level, or `worker`. */
  level: string;
  name: string;
  resource: string;
  amount: number;
}

/** A charge with the limit the round planned against (used only when starting). */
export interface LimitedCharge extends CounterCharge {
  limit: number;
}

/** Coarse state for listings and filters (lib/model/task.ts); the status bits say the rest. */
export type { TaskState };

/** What is stored per (job, node). */
export interface TaskItem {
  job: string;
  node: string;
  state: TaskState;
  /** Bumped on every write; starts are conditional on the version the round read. */
  version: number;
  /** The last status that is not `running` (while running: the previous one, for prev_status). */
  status?: TaskStatus;
  /** The attempt that produced `status`. */
  lastAttempt?: string;
  /** SHA-256 of that attempt's token: a late real end must still present it. */
  lastTokenHash?: string;
  /** Present while running. */
  running?: {
    attempt: string;
    /** SHA-256 of the attempt's token (lib/dispatch/tokens.ts); absent on items started before tokens. */
    tokenHash?: string;
    worker: string;
    /** The worker process instance the attempt was sent to (a re-registered worker is a new one). */
    workerInstance: string;
    startedAtMs: number;
    /** The round that committed the start; dispatch is repeated for rounds not marked dispatched. */
    round: number;
    charges: CounterCharge[];
    nextBackoff: BackoffStep;
  };
}

export interface StartWrite {
  job: string;
  node: string;
  attempt: string;
  /** SHA-256 of the attempt's token. */
  tokenHash: string;
  worker: string;
  workerInstance: string;
  charges: LimitedCharge[];
  nextBackoff: BackoffStep;
  /** Version of the item the plan saw; null when there was no item (never started). */
  expectedVersion: number | null;
}

export interface StartCommitResult {
  committed: StartWrite[];
  /** Starts dropped because their item or a counter changed since the snapshot. */
  rejected: { start: StartWrite; reason: string }[];
  /**
   * Starts the store refuses outright (a non-retryable validation error, e.g. a key over
   * DynamoDB's size limits): retrying cannot help, so the round records them against the task.
   */
  refused: { start: StartWrite; reason: string }[];
  transactions: number;
}

/** A task item as the table holds it: the item and its keys. */
export interface StoredTask extends TaskItem {
  pk: string;
  sk: string;
}

export function toTaskItem(item: Record<string, unknown>): TaskItem {
  const stored = item as unknown as StoredTask;
  return {
    job: stored.job,
    node: stored.node,
    state: stored.state,
    version: stored.version,
    ...(stored.status ? { status: stored.status } : {}),
    ...(stored.lastAttempt ? { lastAttempt: stored.lastAttempt } : {}),
    ...(stored.lastTokenHash ? { lastTokenHash: stored.lastTokenHash } : {}),
    ...(stored.running ? { running: stored.running } : {}),
  };
}

/** A finished attempt to record: the new stored status and the state it files under. */
export interface FinishWrite {
  job: string;
  node: string;
  attempt: string;
  status: TaskStatus;
  state: Exclude<TaskState, "running">;
  /** The charges the running item recorded (released now). */
  charges: CounterCharge[];
  /** The running item's token hash: the write is conditional on it, and it is kept as `lastTokenHash`. */
  tokenHash?: string;
}

export interface FinishApplyResult {
  applied: FinishWrite[];
  /** Finishes whose task was no longer running that attempt (duplicates, stale messages). */
  stale: FinishWrite[];
  /** Finishes a counter refused (it holds less than the task recorded): counters need repair. */
  refused: { finish: FinishWrite; reason: string }[];
  transactions: number;
}

/**
 * A task's new state as a change entry records it (ADR 0003). Each kind applies to a held copy
 * of the item exactly as the write did to the stored one, and only once: a start or put carries
 * the version it wrote, a finish the attempt it ended (attempt ids never repeat).
 */
export type TaskChange =
  | { kind: "start"; job: string; node: string; version: number; running: NonNullable<TaskItem["running"]> }
  | {
      kind: "finish";
      job: string;
      node: string;
      attempt: string;
      state: Exclude<TaskState, "running">;
      status: TaskStatus;
      tokenHash?: string;
    }
  | {
      kind: "replace";
      job: string;
      node: string;
      version: number;
      state: Exclude<TaskState, "running">;
      status: TaskStatus;
    }
  | { kind: "put"; item: TaskItem };
