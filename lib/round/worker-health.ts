// Worker health as the scheduler judges it from heartbeats (BISTRO.md §7.3, simplified for a
// scheduler that runs in short rounds): healthy while heartbeats arrive on time, unhealthy
// once one is late past the grace period, lost (must_die) after `loseUnhealthyAfterSec` of
// silence. Workers apply the same timings to themselves and kill their tasks *before* the
// scheduler may call them lost, so a lost worker's tasks can be retried without overlap.
import type { ResourceAmounts, Settings } from "../model/config";
import type { WorkerSnapshot, WorkerState } from "../scheduler/snapshot";
import type { WorkerRecord } from "../store/workers";

export interface WorkerTimings {
  /** How often workers send heartbeats (Bistro `--heartbeat_period_sec`, 15). */
  heartbeatPeriodSec: number;
  /** How late a heartbeat may be before the worker is unhealthy (`--heartbeat_grace_period`, 60). */
  heartbeatGraceSec: number;
  /** Silence after which a worker is lost and its tasks retried elsewhere (`--lose_unhealthy_worker_after`, 500). */
  loseUnhealthyAfterSec: number;
  /** Margin by which a worker kills its own tasks before the scheduler may call it lost (`--worker_check_interval`, 5). */
  workerCheckIntervalSec: number;
}

export const BISTRO_WORKER_TIMINGS: WorkerTimings = {
  heartbeatPeriodSec: 15,
  heartbeatGraceSec: 60,
  loseUnhealthyAfterSec: 500,
  workerCheckIntervalSec: 5,
};

/** Seconds of silence after which the worker itself must have killed its tasks and stopped. */
export function workerSuicideAfterSec(timings: WorkerTimings): number {
  return timings.loseUnhealthyAfterSec - timings.workerCheckIntervalSec;
}

export function workerState(record: WorkerRecord, nowMs: number, timings: WorkerTimings): WorkerState {
  if (record.lostAtMs !== undefined) return "must_die";
  const silentSec = (nowMs - record.heartbeatAtMs) / 1000;
  if (silentSec > timings.heartbeatGraceSec + record.heartbeatPeriodSec + timings.loseUnhealthyAfterSec) {
    return "must_die";
  }
  return silentSec > record.heartbeatPeriodSec + timings.heartbeatGraceSec ? "unhealthy" : "healthy";
}

/**
 * The worker's capacity per worker-level resource: the level limits, then what the worker
 * declared, then `worker_resources_override` by hostname, then by id (BISTRO.md §3.4).
 */
export function workerCapacity(record: WorkerRecord, settings: Settings): ResourceAmounts {
  const capacity: ResourceAmounts = {};
  for (const [name, spec] of Object.entries(settings.resources.worker ?? {})) {
    capacity[name] = record.resources[name] ?? spec.limit;
  }
  const overrides = settings.workerResourcesOverride;
  for (const key of [record.hostname, record.id]) {
    for (const [name, amount] of Object.entries(overrides[key] ?? {})) {
      if (name in capacity) capacity[name] = amount;
    }
  }
  return capacity;
}

export function workerSnapshot(
  record: WorkerRecord,
  nowMs: number,
  settings: Settings,
  timings: WorkerTimings,
): WorkerSnapshot {
  return {
    id: record.id,
    hostname: record.hostname,
    state: workerState(record, nowMs, timings),
    capacity: workerCapacity(record, settings),
  };
}
