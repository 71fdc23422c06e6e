// Task statuses as Bistro encodes them: result bits (if/bits.thrift), the status record kept
// per (job, node), and its JSON form (`prev_status`, the status queue). Parsing status lines
// and the backoff state machine live in lib/scheduler/status.ts and lib/scheduler/backoff.ts.

export const StatusBits = {
  UNSTARTED: 1,
  RUNNING: 2,
  DONE: 4,
  INCOMPLETE: 8,
  FAILED: 16,
  ERROR: 32,
  USES_BACKOFF: 64,
  AVOIDED: 128,
  DISABLED: 256,
  DOES_NOT_ADVANCE_BACKOFF: 512,
  OVERWRITEABLE: 1024,
  HAS_SAVED_BACKOFF: 2048,
} as const;

/** The last status of a (job, node) that is not running. */
export interface TaskStatus {
  /** Bistro result bits, e.g. 4 = done, 96 = error_backoff. */
  bits: number;
  /** Unix seconds when the status was recorded (the receiving side's clock). */
  timeSec: number;
  /** Seconds of backoff from `timeSec`; 0 when the status does not use backoff. */
  backoffSec: number;
  /** The job-configured backoff saved by a worker-lost status (its effective backoff is longer). */
  savedBackoffSec?: number;
  data?: Record<string, unknown>;
}

/** Result bits of the statuses Bistro names. */
export const StatusValues = {
  RUNNING: StatusBits.RUNNING,
  DONE: StatusBits.DONE,
  INCOMPLETE: StatusBits.INCOMPLETE,
  /** 584: incomplete, backs off without advancing the ladder. */
  INCOMPLETE_BACKOFF: StatusBits.INCOMPLETE | StatusBits.USES_BACKOFF | StatusBits.DOES_NOT_ADVANCE_BACKOFF,
  /** 96: `error_backoff` (or `backoff`). */
  ERROR_BACKOFF: StatusBits.ERROR | StatusBits.USES_BACKOFF,
  /** 16: `failed` as a task reports it. */
  FAILED: StatusBits.FAILED,
  /** 80: an error_backoff that ran out of backoffs. */
  FAILED_BACKOFF_EXHAUSTED: StatusBits.FAILED | StatusBits.USES_BACKOFF,
  /** 32: the task never started (worker refused or unreachable); no backoff. */
  NEVER_STARTED: StatusBits.ERROR,
  /** 1056: the worker says the task is not running; any real status replaces it. */
  WAS_NOT_RUNNING: StatusBits.ERROR | StatusBits.OVERWRITEABLE,
  /** 1120: the live worker does not know the attempt (its end was lost); backs off, a real status replaces it. */
  UNKNOWN_TO_WORKER: StatusBits.ERROR | StatusBits.USES_BACKOFF | StatusBits.OVERWRITEABLE,
  /** 3168: the task's worker was lost. */
  WORKER_LOST: StatusBits.ERROR | StatusBits.USES_BACKOFF | StatusBits.OVERWRITEABLE | StatusBits.HAS_SAVED_BACKOFF,
} as const;

/** Bistro's `BackoffDuration`: the backoff a running task gets if it reports an error. */
export interface BackoffStep {
  /** True when the ladder is exhausted: the next advancing error is permanent. */
  noMoreBackoffs: boolean;
  seconds: number;
}

/** A status as a worker reports it (status queue, Bistro's transport form): bits and data, no time. */
export interface ReportedStatus {
  bits: number;
  data?: Record<string, unknown>;
}

/** Bistro's status JSON (`TaskStatus::toDynamic`), passed to tasks as `prev_status`. */
export interface StatusJson {
  result_bits: number;
  data?: Record<string, unknown>;
  time: number;
  backoff_duration?: number;
}

/** Where Bistro keeps a worker-lost status's job-configured backoff inside `data`. */
export const SAVED_BACKOFF_KEY = "__bistro_saved_backoff";

export type StatusLabel =
  "unstarted" | "running" | "done" | "incomplete" | "incomplete_backoff" | "error_backoff" | "error" | "failed";

/** A short name for a status's bits, for people (UI, CLI, logs). */
export function statusLabel(bits: number): StatusLabel {
  if (bits & StatusBits.RUNNING) return "running";
  if (bits & StatusBits.DONE) return "done";
  if (bits & StatusBits.FAILED) return "failed";
  if (bits & StatusBits.INCOMPLETE) return bits & StatusBits.USES_BACKOFF ? "incomplete_backoff" : "incomplete";
  if (bits & StatusBits.ERROR) return bits & StatusBits.USES_BACKOFF ? "error_backoff" : "error";
  return "unstarted";
}

/** True while the status forbids a retry: it uses backoff and `timeSec + backoffSec` is still ahead. */
export function isInBackoff(status: TaskStatus, nowSec: number): boolean {
  return (status.bits & StatusBits.USES_BACKOFF) !== 0 && status.timeSec + status.backoffSec > nowSec;
}

/** The JSON form of a stored status (`prev_status`); a saved backoff travels inside `data` as in Bistro. */
export function toStatusJson(status: TaskStatus): StatusJson {
  const json: StatusJson = { result_bits: status.bits, time: status.timeSec };
  if (status.data !== undefined || status.savedBackoffSec !== undefined) {
    json.data = { ...status.data };
    if (status.savedBackoffSec !== undefined) json.data[SAVED_BACKOFF_KEY] = status.savedBackoffSec;
  }
  if (status.bits & StatusBits.USES_BACKOFF && status.backoffSec !== 0) json.backoff_duration = status.backoffSec;
  return json;
}
