// The end of a round: the state it carries to the next (dispatch done through it only if every
// order went out; a quiet mark when it changed nothing, so the next rounds can stop early), and
// the wake-up for its earliest timer.
import type { CounterDrift } from "../store/counters";
import { writeSchedulerState } from "../store/scheduler-state";
import { CONTAINER_LAUNCHER_ID } from "./container-dispatch";
import { CONTAINER_CHECK_PERIOD_MS } from "./container-upkeep";
import { DEFAULT_MAX_IDLE_MS, quietTimers, workersDigest } from "./idle-round";
import type { CurrentNodes } from "./node-refresh";
import type { CommittedStarts } from "./round-commit";
import type { Dispatched, ResentOrders } from "./round-dispatch";
import type { RoundInputs } from "./round-load";
import type { PlannedRound, RoundWorkers } from "./round-plan";
import type { RoundContext } from "./round-types";
import { wakeForTimers } from "./wake";

/** What a round did, as its close needs it. */
export interface RoundOutcome {
  drift: readonly CounterDrift[];
  nodes: CurrentNodes;
  workers: RoundWorkers;
  /** Attempts the fail-over wrote ends for. */
  failedOver: number;
  resent: ResentOrders;
  planned: PlannedRound;
  committed: CommittedStarts;
  dispatched: Dispatched;
}

/** Writes the state for the next round and schedules the wake-up; fenced (LeaseLostError). */
export async function closeRound(round: RoundContext, inputs: RoundInputs, outcome: RoundOutcome): Promise<void> {
  const { deps, lease, report, nowMs } = round;
  const { state } = inputs;
  const { planned, nodes, resent, dispatched } = outcome;
  const { plan } = planned;
  const dispatchFailed = resent.failed + dispatched.failed;
  const changed =
    report.started.length +
    report.refused +
    report.storeRefused.length +
    report.killed +
    report.resent +
    outcome.failedOver +
    outcome.drift.length +
    dispatchFailed +
    dispatched.upkeep.stopped.length +
    dispatched.upkeep.lost.length +
    report.lostWorkers.length;
  const quiet =
    changed === 0 && !report.nodes?.changed && deps.cache
      ? {
          sequence: inputs.sequence,
          configVersion: deps.cache.version,
          workers: workersDigest(inputs.workerRecords, nowMs, round.timings),
          ...quietTimers({
            nowMs,
            config: inputs.config,
            records: planned.records,
            items: inputs.items,
            orphanTimers: plan.orphanTimers,
            workersById: outcome.workers.byId,
            dispatchedThroughRound: state.dispatchedThroughRound,
            lastResendAtMs: state.lastResendAtMs,
            unknownAttemptGraceMs: round.unknownGraceMs,
            nodesDueMs: nodes.nextDueMs,
            // Running container tasks are looked at in ECS every check period (container-upkeep.ts).
            maxIdleMs: inputs.items.some((item) => item.running?.worker === CONTAINER_LAUNCHER_ID)
              ? Math.min(deps.maxIdleMs ?? DEFAULT_MAX_IDLE_MS, CONTAINER_CHECK_PERIOD_MS)
              : (deps.maxIdleMs ?? DEFAULT_MAX_IDLE_MS),
          }),
        }
      : undefined;
  await writeSchedulerState(deps.store, lease, {
    orphanTimers: plan.orphanTimers,
    workerCursors: plan.workerCursors,
    dispatchedThroughRound: dispatchFailed === 0 ? lease.round : state.dispatchedThroughRound,
    nodes: nodes.mark,
    refusedTasks: outcome.committed.refusedTasks,
    lastResendAtMs: report.resent > 0 ? resent.atMs : state.lastResendAtMs,
    ...(quiet ? { quiet } : {}),
  });
  const wake = await wakeForTimers(deps, lease, {
    config: inputs.config,
    tasks: planned.records,
    orphanTimers: plan.orphanTimers,
    nowSec: round.nowSec,
    nodes: nodes.mark,
  });
  if (wake) report.wake = wake;
}
