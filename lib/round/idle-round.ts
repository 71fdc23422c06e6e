// Idle rounds (ADR 0003). A round that changed nothing leaves a quiet mark in the scheduler
// state: the change sequence and config version it read, a digest of the workers as it saw
// them, the earliest moment time alone could change its plan (a backoff ending, an orphan's
// kill falling due, a nodes refresh, the safety round), and per worker the heartbeat-list time
// from which a list could end an attempt it lacks. A later round
// that finds the same sequence, config and workers before that moment would plan the same
// nothing, so it stops after a few reads of small items, without the lease and without writing.
import { createHash } from "node:crypto";
import type { Config } from "../model/config";
import { StatusBits } from "../model/status";
import type { OrphanTimer, TaskRecord } from "../scheduler/snapshot";
import { readChangeSequence } from "../store/change-sequence";
import { getCurrentConfigVersion } from "../store/config-store";
import type { StoreContext } from "../store/context";
import { readSchedulerState, type QuietMark } from "../store/scheduler-state";
import type { TaskItem } from "../store/tasks";
import { listWorkers, type WorkerRecord } from "../store/workers";
import { workerState, type WorkerTimings } from "../scheduler/worker-health";

/** A full round runs at least this often even when nothing seems to change (a safety net). */
export const DEFAULT_MAX_IDLE_MS = 30 * 60_000;

/**
 * What of the workers the plan depends on: identity, instance, queue, declared resources,
 * machine, health now, lost mark and the attempts they last listed (not heartbeat times: those
 * move every heartbeat and matter only through the health they imply).
 */
export function workersDigest(records: readonly WorkerRecord[], nowMs: number, timings: WorkerTimings): string {
  const parts = [...records]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((w) => [
      w.id,
      w.instanceId,
      w.hostname,
      w.queueUrl,
      w.resources,
      w.machine ?? null,
      w.heartbeatPeriodSec,
      w.lostAtMs ?? null,
      workerState(w, nowMs, timings),
      [...(w.runningAttempts ?? [])].sort(),
    ]);
  return createHash("sha256").update(JSON.stringify(parts)).digest("base64url");
}

export interface WakeInput {
  nowMs: number;
  config: Config;
  /** The records the round planned with (refusals applied). */
  records: readonly TaskRecord[];
  items: readonly TaskItem[];
  orphanTimers: readonly OrphanTimer[];
  workersById: ReadonlyMap<string, WorkerRecord>;
  dispatchedThroughRound: number;
  lastResendAtMs: number;
  /** How long an attempt may be missing from its worker's list (lib/round/reconcile.ts). */
  unknownAttemptGraceMs: number;
  nodesDueMs: number;
  maxIdleMs: number;
}

/**
 * Per worker, the list time from which a heartbeat list can end an attempt it lacks: an attempt
 * its live worker does not list is ended once a list made past the attempt's grace lacks it
 * (lib/round/reconcile.ts), so such a list, not the clock, is what changes the round.
 */
export function listedAfter(input: WakeInput): Record<string, number> {
  const after: Record<string, number> = {};
  for (const item of input.items) {
    const running = item.running;
    if (!running || running.round > input.dispatchedThroughRound) continue;
    const worker = input.workersById.get(running.worker);
    if (!worker || worker.instanceId !== running.workerInstance || !worker.runningAttempts) continue;
    if (worker.runningAttempts.includes(running.attempt)) continue;
    const threshold = Math.max(running.startedAtMs, input.lastResendAtMs) + input.unknownAttemptGraceMs;
    after[worker.id] = Math.min(after[worker.id] ?? Infinity, threshold);
  }
  return after;
}

/** The earliest moment at which time alone may change what a round would do. */
export function nextWakeMs(input: WakeInput): number {
  const { nowMs } = input;
  let wake = Math.min(input.nodesDueMs, nowMs + input.maxIdleMs);
  for (const record of input.records) {
    const status = record.status;
    if (record.running || !status || (status.bits & StatusBits.USES_BACKOFF) === 0) continue;
    const endsMs = (status.timeSec + status.backoffSec) * 1000;
    if (endsMs > nowMs) wake = Math.min(wake, endsMs);
  }
  const settings = input.config.settings;
  for (const timer of input.orphanTimers) {
    const delay = input.config.jobs[timer.job]?.killOrphanTasksAfterSec ?? settings.killOrphanTasksAfterSec;
    if (delay !== null) wake = Math.min(wake, (timer.firstSeenSec + delay) * 1000);
  }
  return Math.max(nowMs, wake);
}

/**
 * Whether a round now would do nothing: the last round left a quiet mark, its wake time has not
 * come, and the change sequence, config version and workers are as it saw them. Reads four
 * small things (scheduler state, sequence, config head, the workers), writes nothing.
 * Returns the seconds until the mark's wake time when idle, null otherwise.
 */
export async function idleUntil(store: StoreContext, nowMs: number, timings: WorkerTimings): Promise<number | null> {
  const [state, sequence, configVersion, workers] = await Promise.all([
    readSchedulerState(store),
    readChangeSequence(store),
    getCurrentConfigVersion(store),
    listWorkers(store),
  ]);
  const quiet: QuietMark | undefined = state.quiet;
  if (!quiet || nowMs >= quiet.wakeAtMs) return null;
  if (quiet.sequence !== sequence || quiet.configVersion !== configVersion) return null;
  if (quiet.workers !== workersDigest(workers, nowMs, timings)) return null;
  for (const worker of workers) {
    const threshold = quiet.listedAfter?.[worker.id];
    if (threshold !== undefined && (worker.runningListedAtMs ?? 0) >= threshold) return null;
  }
  return (quiet.wakeAtMs - nowMs) / 1000;
}

/** The quiet mark's timers: its wake time and the heartbeat-list thresholds. */
export function quietTimers(input: WakeInput): { wakeAtMs: number; listedAfter: Record<string, number> } {
  return { wakeAtMs: nextWakeMs(input), listedAfter: listedAfter(input) };
}
