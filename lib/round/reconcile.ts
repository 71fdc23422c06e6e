// Reconciliation of running attempts with what their workers say they hold (Bistro's "notify if
// not running", pulled by heartbeats instead of asked for): an attempt stored as running on a live
// worker instance that does not list it, though the list was made well after the start order went
// out, has ended without its end reaching us (a dead-lettered status, say). It is finished as an
// error with the attempt's backoff, through the normal finish path, which releases its resources.
import type { BackoffStep, TaskStatus } from "../model/status";
import { finishTask } from "../scheduler/backoff";
import { unknownToWorker } from "../scheduler/status";
import type { FinishWrite, TaskItem } from "../store/tasks";
import type { WorkerRecord } from "../store/workers";
import { stateOfStatus } from "../scheduler/task-state";

export interface ReconcileInput {
  items: readonly TaskItem[];
  workersById: ReadonlyMap<string, WorkerRecord>;
  /** Attempts of rounds after this one may not have been sent yet: they are left alone. */
  dispatchedThroughRound: number;
  /** When a round last re-sent start orders (a re-sent order reaches its worker late). */
  lastResendAtMs: number;
  /** How long after its order was sent an attempt may still be missing from its worker's list. */
  graceMs: number;
  nowSec: number;
}

/** Finishes for the running attempts their live worker does not know. */
export function unknownAttemptFinishes(input: ReconcileInput): FinishWrite[] {
  const finishes: FinishWrite[] = [];
  const listed = new Map<string, Set<string>>();
  for (const item of input.items) {
    const running = item.running;
    if (!running || running.round > input.dispatchedThroughRound) continue;
    const worker = input.workersById.get(running.worker);
    if (!worker || worker.instanceId !== running.workerInstance || worker.lostAtMs !== undefined) continue;
    const listedAtMs = worker.runningListedAtMs;
    if (listedAtMs === undefined || !worker.runningAttempts) continue;
    // The order went out at the start (or at the last re-send); the list must be younger by the grace.
    const sentAtMs = Math.max(running.startedAtMs, input.lastResendAtMs);
    if (listedAtMs - sentAtMs < input.graceMs) continue;
    let attempts = listed.get(worker.id);
    if (!attempts) listed.set(worker.id, (attempts = new Set(worker.runningAttempts)));
    if (attempts.has(running.attempt)) continue;
    finishes.push({
      ...finishOf(item, running.attempt, running.worker, running.nextBackoff, running.charges, input.nowSec),
      // Kept as the item's last token, so the attempt's real end, if it still comes, replaces the placeholder.
      ...(running.tokenHash === undefined ? {} : { tokenHash: running.tokenHash }),
    });
  }
  return finishes;
}

function finishOf(
  item: TaskItem,
  attempt: string,
  workerId: string,
  nextBackoff: BackoffStep,
  charges: FinishWrite["charges"],
  nowSec: number,
): FinishWrite {
  const status: TaskStatus = finishTask({
    previous: item.status,
    nextBackoff,
    reported: unknownToWorker(workerId),
    nowSec,
  });
  return { job: item.job, node: item.node, attempt, status, state: stateOfStatus(status), charges };
}
