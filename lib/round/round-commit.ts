// The round's commits, each fenced by the lease: before it plans, counter repairs, lost-worker
// marks and the ends of attempts that ended without their end reaching the round; after, the
// planned starts.
import type { RefusedTask } from "../store/refused-tasks";
import { counterDrift, repairCounters, usageOfRunningTasks, type CounterDrift } from "../store/counters";
import { applyFinishes, commitStarts, type FinishWrite, type StartCommitResult, type TaskItem } from "../store/tasks";
import { markWorkerLost } from "../store/workers";
import { applyFailOver, failOverFinishes } from "./fail-over";
import { nextRefusals } from "./refused-starts";
import type { RoundInputs } from "./round-load";
import { startWrites } from "./round-orders";
import type { PlannedRound, RoundWorkers } from "./round-plan";
import { endedAttempt, type EndedAttempt } from "./round-status-log";
import type { RoundContext } from "./round-types";
import type { workerSnapshot } from "../scheduler/worker-health";

/** Sets counters right when they disagree with the running tasks; a release racing the repair waits a round. */
export async function repairDrift(round: RoundContext, inputs: RoundInputs): Promise<CounterDrift[]> {
  const { deps, lease, report } = round;
  const drift = counterDrift(inputs.counters, usageOfRunningTasks(inputs.items));
  if (drift.length === 0) return drift;
  deps.log?.({ event: "counter-drift", drift });
  // False: a release raced the repair, and the next round looks again.
  if (await repairCounters(deps.store, lease, drift)) report.repairedCounters = drift.length;
  return drift;
}

/**
 * Marks lost workers and commits the ends of attempts that ended unseen; returns how many were
 * written and the attempts that were ended (for their `statuses` lines).
 */
export async function commitFailOver(
  round: RoundContext,
  inputs: RoundInputs,
  snapshots: ReturnType<typeof workerSnapshot>[],
): Promise<{ written: number; ended: EndedAttempt[] }> {
  const { deps, lease, report, nowMs } = round;
  const lostInstances = new Set<string>();
  for (const [i, worker] of snapshots.entries()) {
    const record = inputs.workerRecords[i];
    if (!record || worker.state !== "must_die") continue;
    if (record.lostAtMs === undefined && (await markWorkerLost(deps.store, record.id, record.instanceId, nowMs))) {
      report.lostWorkers.push(record.id);
    }
    lostInstances.add(record.instanceId);
  }
  const { finishes, unknown } = failOverFinishes({
    items: inputs.items,
    workersById: new Map(inputs.workerRecords.map((w) => [w.id, w])),
    lostInstances,
    dispatchedThroughRound: inputs.state.dispatchedThroughRound,
    lastResendAtMs: inputs.state.lastResendAtMs,
    unknownGraceMs: round.unknownGraceMs,
    nowSec: round.nowSec,
  });
  if (finishes.length === 0) return { written: 0, ended: [] };
  const { applied } = await applyFinishes(deps.store, finishes, lease);
  const ended = endedAttempts(inputs.items, applied);
  deps.log?.({
    event: "attempts-failed-over",
    round: lease.round,
    attempts: applied.map((f) => ({ job: f.job, node: f.node, attempt: f.attempt })),
  });
  report.unknownAttempts.push(...applyFailOver(inputs.items, applied, unknown));
  return { written: finishes.length, ended };
}

/** The attempts `applied` ended, read from the items before the ends are applied to them. */
function endedAttempts(items: readonly TaskItem[], applied: readonly FinishWrite[]): EndedAttempt[] {
  if (applied.length === 0) return [];
  const byAttempt = new Map(applied.map((f) => [f.attempt, f]));
  const ended: EndedAttempt[] = [];
  for (const item of items) {
    const finish = item.running && byAttempt.get(item.running.attempt);
    if (!finish || finish.job !== item.job || finish.node !== item.node) continue;
    const attempt = endedAttempt(item, finish.status);
    if (attempt) ended.push(attempt);
  }
  return ended;
}

export interface CommittedStarts {
  result: StartCommitResult;
  /** When the commit was made: the start time the items record and the orders carry. */
  committedAtMs: number;
  /** The refusals to carry to the next round. */
  refusedTasks: RefusedTask[];
}

/**
 * Commits the plan's starts. The start time recorded is the commit's, not the round's: under
 * load a round's reads can take seconds, and reconciliation counts an order's age from it (the
 * deadline in the order agrees).
 */
export async function commitPlannedStarts(
  round: RoundContext,
  inputs: RoundInputs,
  planned: PlannedRound,
  workers: RoundWorkers,
): Promise<CommittedStarts> {
  const { deps, lease, report } = round;
  const writes = startWrites({
    plan: planned.plan,
    round: lease.round,
    settings: inputs.config.settings,
    items: inputs.items,
    workersById: workers.byId,
    capacityOf: new Map([...workers.snapshots, ...workers.launcher].map((w) => [w.id, w.capacity])),
    tokenOf: inputs.tokenOf,
  });
  const committedAtMs = deps.clock();
  const result = await commitStarts(deps.store, lease, writes, committedAtMs);
  report.refused = result.rejected.length;
  report.storeRefused = result.refused.map(({ start, reason }) => ({ job: start.job, node: start.node, reason }));
  for (const { job, node, reason } of report.storeRefused) {
    deps.log?.({ event: "start-refused-by-store", job, node: node.slice(0, 256), nodeLength: node.length, reason });
  }
  const refusedTasks = nextRefusals(planned.refusals, planned.records, result.committed, result.refused, round.nowSec);
  return { result, committedAtMs, refusedTasks };
}
