// The round's plan step: the workers it may start on (with their health), the snapshot it plans
// over (task records with the store's earlier refusals, done codes over the tree) and the plan
// itself (lib/scheduler/plan.ts, pure).
import type { NodeTree } from "../model/tree";
import type { WorkerRecord } from "../model/worker";
import { planRound } from "../scheduler/plan";
import type { Plan, RoundSnapshot, TaskRecord, WorkerSnapshot } from "../scheduler/snapshot";
import { workerSnapshot } from "../scheduler/worker-health";
import { launcherSnapshot } from "./container-dispatch";
import { liveRefusals, withRefusals, type LiveRefusal } from "./refused-starts";
import type { RoundInputs } from "./round-load";
import type { RoundContext } from "./round-types";
import { promoteDone } from "./task-cache";
import { toRecord } from "./task-records";

/** The round's view of the workers: one snapshot per registration, and the container launcher. */
export interface RoundWorkers {
  /** In the order of `inputs.workerRecords`. */
  snapshots: WorkerSnapshot[];
  /** The container launcher's snapshot when the deployment runs containers. */
  launcher: WorkerSnapshot[];
  byId: Map<string, WorkerRecord>;
}

export function roundWorkers(round: RoundContext, inputs: RoundInputs): RoundWorkers {
  const { settings } = inputs.config;
  return {
    snapshots: inputs.workerRecords.map((record) => workerSnapshot(record, round.nowMs, settings, round.timings)),
    launcher: round.deps.containers ? [launcherSnapshot(settings)] : [],
    byId: new Map(inputs.workerRecords.map((w) => [w.id, w])),
  };
}

export interface PlannedRound {
  plan: Plan;
  /** The records planned over (refusals applied). */
  records: TaskRecord[];
  /** The store's earlier refusals that still name a task. */
  refusals: LiveRefusal[];
}

/**
 * Plans the round over `tree`. A task the store refused earlier plans with the error recorded for
 * it, and a done task such a refusal names is walked whole this round (it joins `inputs.items`).
 */
export function planTasks(
  round: RoundContext,
  inputs: RoundInputs,
  tree: NodeTree,
  workers: RoundWorkers,
  untilRefreshSec: number,
): PlannedRound {
  const { deps, report } = round;
  const { config, state, items } = inputs;
  const refusals = liveRefusals(state.refusedTasks, config, tree);
  const refused = refusals.map(({ refusal, node }) => ({ job: refusal.job, node }));
  if (deps.taskCache) items.push(...promoteDone(deps.taskCache, refused));
  const records = withRefusals(items.map(toRecord), refusals);
  const snapshot: RoundSnapshot = {
    config,
    tree,
    tasks: records,
    done: inputs.done.codesFor(tree),
    workers: [...workers.snapshots.filter((w) => w.state !== "must_die"), ...workers.launcher],
    orphanTimers: state.orphanTimers,
    workerCursors: state.workerCursors,
  };
  const plan = planRound(snapshot, round.nowSec, deps.rng);
  report.reasons.push(...plan.reasons);
  report.nextRoundInSec = Math.min(plan.nextRoundInSec, untilRefreshSec);
  report.candidatesEvaluated = plan.stats.candidatesEvaluated;
  return { plan, records, refusals };
}
