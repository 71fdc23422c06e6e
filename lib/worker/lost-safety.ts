// The worker's side of Bistro's lost-worker protocol: how long a worker may
// go without an acknowledged heartbeat before it kills its tasks and exits, chosen so that its tasks
// are dead strictly before the scheduler may call it lost (`workerState` must_die) and retry them
// elsewhere. Pure arithmetic, shared by the daemon and its tests.
import { workerSuicideAfterSec, type WorkerTimings } from "../scheduler/worker-health";

export interface SelfDeadlines {
  /**
   * Silence, measured from the SEND time of the last acknowledged heartbeat, after which the worker
   * starts killing its tasks (SIGTERM, then SIGKILL after the kill wait) and then exits.
   */
  suicideAfterMs: number;
  /**
   * Silence after which the scheduler may call the worker lost. The scheduler measures from the time
   * it recorded the heartbeat, which is never before the worker sent it, so measuring from the send
   * time only makes the worker earlier.
   */
  mustDieAfterMs: number;
}

export class UnsafeTimingsError extends Error {
  override readonly name = "UnsafeTimingsError";
}

/**
 * Bistro's worker loses itself after `loseUnhealthyAfter - workerCheckInterval` (495 s by default);
 * Sous measures that from the last acknowledged heartbeat, which is earlier still. The worker also
 * leaves itself the kill wait plus one check interval (for reaping and late timers) before the
 * scheduler's deadline, and refuses timings where it would give up between two regular heartbeats.
 */
export function selfDeadlines(timings: WorkerTimings, heartbeatPeriodSec: number, killWaitMs: number): SelfDeadlines {
  if (!(timings.workerCheckIntervalSec > 0)) {
    throw new UnsafeTimingsError(`worker_check_interval must be positive (got ${timings.workerCheckIntervalSec} s)`);
  }
  const mustDieAfterMs = (heartbeatPeriodSec + timings.heartbeatGraceSec + timings.loseUnhealthyAfterSec) * 1000;
  const marginMs = timings.workerCheckIntervalSec * 1000;
  const suicideAfterMs = Math.min(workerSuicideAfterSec(timings) * 1000, mustDieAfterMs - killWaitMs - marginMs);
  if (!(suicideAfterMs > heartbeatPeriodSec * 1000)) {
    throw new UnsafeTimingsError(
      `With a heartbeat every ${heartbeatPeriodSec} s, grace ${timings.heartbeatGraceSec} s, lose after ` +
        `${timings.loseUnhealthyAfterSec} s, check interval ${timings.workerCheckIntervalSec} s and a kill wait of ` +
        `${killWaitMs} ms, the worker would have to give up after ${suicideAfterMs} ms of silence, which is not ` +
        `longer than one heartbeat period: raise lose_unhealthy_worker_after or shorten the heartbeat period.`,
    );
  }
  return { suicideAfterMs, mustDieAfterMs };
}
