// The backoff ladder and finishing a task: from the previous status, the
// backoff the attempt was given at start, and the reported status to the new stored status.
import type { BackoffSettings } from "../model/config";
import { StatusBits, type BackoffStep, type ReportedStatus, type TaskStatus } from "../model/status";

/** The backoff an exhausted ladder still uses for `incomplete_backoff` (Bistro's magic minute). */
export const EXHAUSTED_BACKOFF_SEC = 60;

/**
 * How long a lost worker's tasks wait before a retry, so a new attempt cannot overlap one the
 * worker is still killing: suicide safety margin 60 s + task kill wait 5 s + 1 s.
 */
export const WORKER_LOST_SAFETY_BACKOFF_SEC = 60 + 5000 / 1000 + 1;

/** The first ladder value above `currentSec`; past the end, the last value ("repeat") or no more. */
export function nextBackoff(settings: BackoffSettings, currentSec: number): BackoffStep {
  for (const seconds of settings.values) {
    if (seconds > currentSec) return { noMoreBackoffs: false, seconds };
  }
  const last = settings.values.at(-1);
  if (settings.end === "repeat" && last !== undefined) return { noMoreBackoffs: false, seconds: last };
  return { noMoreBackoffs: true, seconds: EXHAUSTED_BACKOFF_SEC };
}

/**
 * The job-configured backoff a status stands for: a lost worker's saved value (its effective
 * backoff is the longer safety one), else the stored backoff (0 for statuses without backoff).
 */
export function configuredBackoffSec(status: TaskStatus): number {
  return status.savedBackoffSec ?? status.backoffSec;
}

/** The backoff an attempt gets when it starts: the step after its previous status's (first step if none). */
export function backoffAtStart(settings: BackoffSettings, previous: TaskStatus | undefined): BackoffStep {
  return nextBackoff(settings, previous ? configuredBackoffSec(previous) : 0);
}

export interface FinishInput {
  /** The stored status before this attempt ended (its previous run's, or a placeholder it replaces). */
  previous: TaskStatus | undefined;
  /** What the attempt was given at start (`backoffAtStart`). */
  nextBackoff: BackoffStep;
  reported: ReportedStatus;
  nowSec: number;
  /** Minimum backoff of a worker-lost status; defaults to Bistro's 66 s. */
  workerLostSafetySec?: number;
}

/**
 * The new stored status when an attempt ends. An advancing backoff (error_backoff, worker lost)
 * takes the attempt's step and becomes FAILED once the ladder is exhausted; incomplete_backoff
 * repeats the previous backoff and never fails; done, incomplete and never-started carry none,
 * so the ladder restarts.
 */
export function finishTask(input: FinishInput): TaskStatus {
  const { previous, nextBackoff: step, reported } = input;
  let bits = reported.bits;
  const status: TaskStatus = { bits, timeSec: Math.floor(input.nowSec), backoffSec: 0 };
  if (reported.data !== undefined) status.data = reported.data;
  if ((bits & StatusBits.USES_BACKOFF) === 0) return status;

  if (bits & StatusBits.DOES_NOT_ADVANCE_BACKOFF) {
    status.backoffSec = previousBackoffSec(previous, step);
    return status;
  }
  if (step.noMoreBackoffs && bits & StatusBits.ERROR) bits = (bits & ~StatusBits.ERROR) | StatusBits.FAILED;
  status.bits = bits;
  status.backoffSec = step.seconds;
  if (bits & StatusBits.HAS_SAVED_BACKOFF) {
    // The retry ladder continues from the job's own value; the wait itself is at least the safety one.
    status.savedBackoffSec = step.seconds;
    status.backoffSec = Math.max(step.seconds, input.workerLostSafetySec ?? WORKER_LOST_SAFETY_BACKOFF_SEC);
  }
  return status;
}

/** incomplete_backoff repeats the job's current backoff: saved, else stored, else the attempt's step. */
function previousBackoffSec(previous: TaskStatus | undefined, step: BackoffStep): number {
  if (previous?.savedBackoffSec !== undefined) return previous.savedBackoffSec;
  if (previous && previous.backoffSec !== 0) return previous.backoffSec;
  return step.seconds;
}
