// Worker health as the scheduler judges it from heartbeats (simplified for a
// scheduler that runs in short rounds): healthy while heartbeats arrive on time, unhealthy
// once one is late past the grace period, lost (must_die) after `loseUnhealthyAfterSec` of
// silence. Workers apply the same timings to themselves and kill their tasks *before* the
// scheduler may call them lost, so a lost worker's tasks can be retried without overlap.
import type { MachineResources, ResourceAmounts, Settings } from "../model/config";
import type { WorkerRecord } from "../model/worker";
import type { WorkerSnapshot, WorkerState } from "./snapshot";

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
 * The worker's capacity per worker-level resource: the level limits, then `physical_resources`
 * applied to the machine the worker measured, then what the worker declared (`--resources`), then
 * `worker_resources_override` by hostname, then by id (as Bistro does, plus the declaration).
 */
export function workerCapacity(record: WorkerRecord, settings: Settings): ResourceAmounts {
  const capacity: ResourceAmounts = {};
  const workerLevel = settings.resources.worker ?? {};
  for (const [name, spec] of Object.entries(workerLevel)) capacity[name] = spec.limit;
  if (record.machine) applyPhysicalResources(capacity, record.machine, settings.physicalResources);
  for (const name of Object.keys(workerLevel)) {
    const declared = record.resources[name];
    if (declared !== undefined) capacity[name] = declared;
  }
  const overrides = settings.workerResourcesOverride;
  for (const key of [record.hostname, record.id]) {
    for (const [name, amount] of Object.entries(overrides[key] ?? {})) {
      if (name in capacity) capacity[name] = amount;
    }
  }
  return capacity;
}

/** The physical amount of each `physical_resources` type; 0 = unknown. */
function physicalAmount(type: string, machine: MachineResources): number {
  switch (type) {
    case "cpu_core":
      return machine.cpuCores;
    case "ram_mb":
      return machine.memoryMB;
    case "gpu_card":
      return machine.gpus.length;
    default:
      return 0;
  }
}

/**
 * Bistro's mapping: logical = max(0, trunc((physical - reserve) / multiply)); an unknown (0)
 * physical amount keeps the configured limit. Each GPU also adds one to the worker resource
 * `GPU: <model>`, when the config defines one.
 */
export function applyPhysicalResources(
  capacity: ResourceAmounts,
  machine: MachineResources,
  physical: Settings["physicalResources"],
): void {
  for (const [type, spec] of Object.entries(physical)) {
    if (!Object.hasOwn(capacity, spec.logicalResource)) continue;
    const amount = physicalAmount(type, machine);
    if (amount <= 0) continue;
    capacity[spec.logicalResource] = Math.max(
      0,
      Math.trunc((amount - spec.physicalReserveAmount) / spec.multiplyLogicalBy),
    );
  }
  for (const model of machine.gpus) {
    const name = `GPU: ${model}`;
    if (Object.hasOwn(capacity, name)) capacity[name] = (capacity[name] ?? 0) + 1;
  }
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
