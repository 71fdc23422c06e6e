// Health timings of the soak: seconds, not Bistro's minutes, so a killed worker is declared lost
// (and its tasks retried after the safety backoff) within the soak's run.
import type { WorkerTimings } from "../../lib/scheduler/worker-health";

export const SOAK_TIMINGS: WorkerTimings = {
  heartbeatPeriodSec: 1,
  heartbeatGraceSec: 5,
  loseUnhealthyAfterSec: 10,
  workerCheckIntervalSec: 1,
};
