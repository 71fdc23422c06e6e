// Task statuses as they arrive: parsing a task's status line, the synthetic
// statuses the system reports itself (killed, lost, never started), the rule that decides
// whether an arriving status is applied, and forgiving failures.
import { SAVED_BACKOFF_KEY, StatusBits, StatusValues, type ReportedStatus, type TaskStatus } from "../model/status";

/** What the status line's author knows besides the line. */
export interface StatusLineContext {
  /** The system signaled the task (kill request, orphan kill): a missing line is not an error. */
  killed: boolean;
}

const LABELS: Readonly<Record<string, number>> = {
  done: StatusValues.DONE,
  incomplete: StatusValues.INCOMPLETE,
  incomplete_backoff: StatusValues.INCOMPLETE_BACKOFF,
  backoff: StatusValues.ERROR_BACKOFF,
  error_backoff: StatusValues.ERROR_BACKOFF,
  failed: StatusValues.FAILED,
};

/** Exactly one of these must be set in reported result bits. */
const EXACTLY_ONE =
  StatusBits.UNSTARTED |
  StatusBits.RUNNING |
  StatusBits.DONE |
  StatusBits.INCOMPLETE |
  StatusBits.FAILED |
  StatusBits.ERROR;
/** Monitor-only or private bits a task may not report. */
const FORBIDDEN = StatusBits.UNSTARTED | StatusBits.AVOIDED | StatusBits.DISABLED | StatusBits.HAS_SAVED_BACKOFF;
const KNOWN =
  StatusBits.RUNNING |
  StatusBits.DONE |
  StatusBits.INCOMPLETE |
  StatusBits.FAILED |
  StatusBits.ERROR |
  StatusBits.USES_BACKOFF |
  StatusBits.DOES_NOT_ADVANCE_BACKOFF |
  StatusBits.OVERWRITEABLE;

class StatusParseError extends Error {
  override readonly name = "StatusParseError";
}

/** An `error_backoff` carrying `{"exception": message}`. */
export function errorBackoff(message: string): ReportedStatus {
  return { bits: StatusValues.ERROR_BACKOFF, data: { exception: message } };
}

/** The task could not be started (worker refused it, spawn failed before running): no backoff used. */
export function neverStarted(message: string): ReportedStatus {
  return { bits: StatusValues.NEVER_STARTED, data: { exception: message } };
}

/** The worker answered that the task is not running; a real status arriving later replaces it. */
export function wasNotRunning(): ReportedStatus {
  return { bits: StatusValues.WAS_NOT_RUNNING };
}

/**
 * A container job's ECS task stopped (or vanished) without its end arriving: an error with the
 * attempt's backoff, naming ECS's reason; the real end, if it still comes, replaces it.
 */
export function containerLost(reason: string): ReportedStatus {
  return {
    bits: StatusValues.UNKNOWN_TO_WORKER,
    data: {
      worker_shard: "sous-ecs-run-task",
      exception: `Container task stopped without reporting its end: ${reason}`,
    },
  };
}

/**
 * The attempt's worker is alive but does not list it: the attempt ended and its end was lost
 * (dead-lettered, say). An error with the attempt's backoff; the real end, if it comes, replaces it.
 */
export function unknownToWorker(workerId: string): ReportedStatus {
  return {
    bits: StatusValues.UNKNOWN_TO_WORKER,
    data: { worker_shard: workerId, exception: "The worker does not know this attempt (its end was lost?)" },
  };
}

/** The task's worker was lost; finishing it applies the safety backoff and saves the job's own. */
export function workerLost(workerId: string): ReportedStatus {
  return {
    bits: StatusValues.WORKER_LOST,
    data: { worker_shard: workerId, exception: "Remote worker lost (crashed? network down?)" },
  };
}

/**
 * The status a finished task reported: the last non-empty line it wrote to its status pipe, or
 * undefined if it wrote none. Never throws: what cannot be parsed becomes an `error_backoff`.
 */
export function parseStatusLine(raw: string | undefined, context: StatusLineContext): ReportedStatus {
  if (raw === undefined) {
    return context.killed
      ? { bits: StatusValues.INCOMPLETE_BACKOFF, data: { exception: "Task killed, no status returned" } }
      : errorBackoff("Failed to read a status");
  }
  const label = LABELS[raw];
  if (label !== undefined) return { bits: label };
  try {
    return parseStatusJson(raw);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return errorBackoff(`Cannot parse status: ${raw}, ${reason}`);
  }
}

function parseStatusJson(raw: string): ReportedStatus {
  const parsed: unknown = JSON.parse(raw);
  if (!isObject(parsed)) throw new StatusParseError("a status must be a label or a JSON object");
  const data = statusData(parsed);
  if ("result_bits" in parsed) return withData(checkBits(parsed.result_bits), data);
  const result = parsed.result;
  const bits = typeof result === "string" ? LABELS[result] : undefined;
  if (bits === undefined) throw new StatusParseError('Need a valid "result" or "result_bits" key');
  return withData(bits, data);
}

/** `data` must be an object; empty data is dropped and the private saved-backoff key removed. */
function statusData(parsed: Record<string, unknown>): Record<string, unknown> | undefined {
  if (!("data" in parsed)) return undefined;
  const data = parsed.data;
  if (!isObject(data)) throw new StatusParseError('"data" must be an object');
  const { [SAVED_BACKOFF_KEY]: _saved, ...kept } = data;
  return Object.keys(kept).length > 0 ? kept : undefined;
}

function checkBits(value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw new StatusParseError('"result_bits" must be an integer');
  }
  if (value < 0 || value > 0xffff) throw new StatusParseError(`Encountered unknown bit(s): ${value}`);
  if (value & FORBIDDEN) {
    throw new StatusParseError("Don't report Unstarted, Avoided, Disabled, or HasSavedBackoff bits");
  }
  const main = value & EXACTLY_ONE;
  if (main === 0 || (main & (main - 1)) !== 0) {
    throw new StatusParseError("Set exactly one required bit (Running, Done, ...)");
  }
  if (value & ~KNOWN) throw new StatusParseError(`Encountered unknown bit(s): ${value & ~KNOWN}`);
  // Bistro would abort on these later; refusing them here keeps the state machine total.
  if (value & StatusBits.RUNNING) throw new StatusParseError("A finished task cannot report Running");
  const advancing = (value & StatusBits.USES_BACKOFF) !== 0 && (value & StatusBits.DOES_NOT_ADVANCE_BACKOFF) === 0;
  if (advancing && (value & StatusBits.ERROR) === 0) {
    throw new StatusParseError("UsesBackoff without Error needs DoesNotAdvanceBackoff");
  }
  return value;
}

function withData(bits: number, data: Record<string, unknown> | undefined): ReportedStatus {
  return data === undefined ? { bits } : { bits, data };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The state a status update meets: the stored status and the attempt running now, if any. */
export interface TaskStateForUpdate {
  runningAttemptId?: string;
  stored?: TaskStatus;
}

export type StatusUpdateDecision =
  /** The running attempt ended: finish it with this status. */
  | { action: "finish" }
  /** Not running, but the stored status is a placeholder (lost, not running): the real one replaces it. */
  | { action: "replace" }
  | { action: "ignore"; reason: string };

/**
 * Bistro's update rules for a non-running status of attempt `attemptId`. Duplicates and
 * late placeholders are dropped so a re-sent status never consumes a second retry.
 */
export function decideStatusUpdate(
  state: TaskStateForUpdate,
  update: { attemptId: string; bits: number },
): StatusUpdateDecision {
  if (state.runningAttemptId !== undefined) {
    if (state.runningAttemptId === update.attemptId) return { action: "finish" };
    return {
      action: "ignore",
      reason: `Status for attempt ${update.attemptId} while attempt ${state.runningAttemptId} runs: double start?`,
    };
  }
  if (update.bits & StatusBits.OVERWRITEABLE) {
    return { action: "ignore", reason: "A placeholder status never replaces a stored one" };
  }
  if (state.stored && state.stored.bits & StatusBits.OVERWRITEABLE) return { action: "replace" };
  return { action: "ignore", reason: "The task is already not running (duplicate status)" };
}

/**
 * Forgives a status: failed becomes error, and a backoff is cleared so the task may run
 * now and its ladder restarts. A lost worker's safety backoff stays; only its saved value is reset.
 */
export function forgive(status: TaskStatus): TaskStatus {
  let bits = status.bits;
  if (bits & StatusBits.FAILED) bits = (bits & ~StatusBits.FAILED) | StatusBits.ERROR;
  const forgiven: TaskStatus = { ...status, bits };
  if (bits & StatusBits.USES_BACKOFF) {
    if (bits & StatusBits.HAS_SAVED_BACKOFF) forgiven.savedBackoffSec = 0;
    else forgiven.backoffSec = 0;
  }
  return forgiven;
}
