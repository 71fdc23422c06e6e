// Which running attempts a round ends on its own judgement, and how their ends show in the items
// it plans with. Pure: the round commits the finishes (fenced) and passes back what applied.
// Ended are the attempts of lost workers (past the deadline by which a worker kills its own
// tasks), of instances replaced by a re-registration (same deadline), and attempts their live
// worker no longer lists (lib/round/reconcile.ts).
import { taskId } from "../model/task";
import { finishTask } from "../scheduler/backoff";
import { workerLost } from "../scheduler/status";
import type { FinishWrite, TaskItem } from "../store/tasks";
import type { WorkerRecord } from "../store/workers";
import { unknownAttemptFinishes } from "./reconcile";
import { stateOfStatus } from "../scheduler/task-state";

export interface FailOverInput {
  items: readonly TaskItem[];
  workersById: ReadonlyMap<string, WorkerRecord>;
  /** Worker instances past the must-die deadline. */
  lostInstances: ReadonlySet<string>;
  dispatchedThroughRound: number;
  lastResendAtMs: number;
  unknownGraceMs: number;
  nowSec: number;
}

export interface FailOver {
  finishes: FinishWrite[];
  /** The subset of `finishes` that end attempts a live worker does not list. */
  unknown: ReadonlySet<FinishWrite>;
}

/** The finishes a round writes for attempts that ended without their end reaching it. */
export function failOverFinishes(input: FailOverInput): FailOver {
  const finishes: FinishWrite[] = [];
  for (const item of input.items) {
    const running = item.running;
    if (!running) continue;
    const current = input.workersById.get(running.worker);
    const gone =
      input.lostInstances.has(running.workerInstance) || (current && current.instanceId !== running.workerInstance);
    if (!gone) continue;
    const status = finishTask({
      previous: item.status,
      nextBackoff: running.nextBackoff,
      reported: workerLost(running.worker),
      nowSec: input.nowSec,
    });
    finishes.push({
      job: item.job,
      node: item.node,
      attempt: running.attempt,
      status,
      state: stateOfStatus(status),
      charges: running.charges,
      ...(running.tokenHash === undefined ? {} : { tokenHash: running.tokenHash }),
    });
  }
  // Attempts a live worker does not know ended without their end reaching us: end them too.
  const failedOver = new Set(finishes.map((f) => taskId(f.job, f.node)));
  const unknown = unknownAttemptFinishes({
    items: input.items,
    workersById: input.workersById,
    dispatchedThroughRound: input.dispatchedThroughRound,
    lastResendAtMs: input.lastResendAtMs,
    graceMs: input.unknownGraceMs,
    nowSec: input.nowSec,
  }).filter((f) => !failedOver.has(taskId(f.job, f.node)));
  finishes.push(...unknown);
  return { finishes, unknown: new Set(unknown) };
}

/**
 * Applies the finishes that committed to the items in place (so the plan sees them ended), and
 * returns the unknown attempts among them for the report.
 */
export function applyFailOver(
  items: readonly TaskItem[],
  applied: readonly FinishWrite[],
  unknown: ReadonlySet<FinishWrite>,
): { job: string; node: string; attempt: string; worker: string }[] {
  const unknownAttempts: { job: string; node: string; attempt: string; worker: string }[] = [];
  const finished = new Map(applied.map((f) => [taskId(f.job, f.node), f]));
  for (const item of items) {
    const finish = finished.get(taskId(item.job, item.node));
    if (!finish) continue;
    if (unknown.has(finish)) {
      const worker = item.running?.worker ?? "";
      unknownAttempts.push({ job: item.job, node: item.node, attempt: finish.attempt, worker });
    }
    // As the finish wrote the stored item (a warm state keeps these objects).
    delete item.running;
    item.status = finish.status;
    item.state = finish.state;
    item.version++;
    item.lastAttempt = finish.attempt;
    if (finish.tokenHash === undefined) delete item.lastTokenHash;
    else item.lastTokenHash = finish.tokenHash;
  }
  return unknownAttempts;
}
