// Task statuses as Bistro encodes them: result bits (if/bits.thrift), the status record kept
// per (job, node), and its JSON form (`prev_status`, the status queue). Parsing status lines
// and the backoff state machine live in lib/scheduler/status.ts.

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
