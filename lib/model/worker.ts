// A worker registration as stored and judged: who the worker is, where its orders go, what it
// declared and when it was last heard from. The store keeps it (lib/store/workers.ts); the
// scheduler judges its health and capacity from it (lib/scheduler/worker-health.ts).
import type { MachineResources, ResourceAmounts } from "./config";

export interface WorkerRecord {
  id: string;
  hostname: string;
  /** Unique per worker process start; a restart is a new instance. */
  instanceId: string;
  queueUrl: string;
  /** Capacity the worker declared (`--resources`); config overrides apply on top. */
  resources: ResourceAmounts;
  /** The machine as the worker measured it (cores, memory, GPUs); `physical_resources` maps it. */
  machine?: MachineResources | undefined;
  heartbeatPeriodSec: number;
  registeredAtMs: number;
  heartbeatAtMs: number;
  /** Set when the scheduler declared this instance lost; its tasks were failed over. */
  lostAtMs?: number;
  /** SHA-256 of the heartbeat secret the registration returned (absent on records older than it). */
  secretHash?: string;
  /** The registering caller's aws:userid (AWS); heartbeats must come from it too. */
  principal?: string;
  /** The attempts the last heartbeat listed (running, or ended with the end not yet sent). */
  runningAttempts?: string[];
  /** When that list was made (the earlier of the worker's send time and the receipt). */
  runningListedAtMs?: number;
}

/** The attempts a heartbeat listed, and when that list was made (ms since the epoch). */
export interface RunningList {
  attempts: readonly string[];
  listedAtMs: number;
}
