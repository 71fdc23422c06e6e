// The round's dispatch: the orders of earlier rounds that did not all go out (sent again, after
// the fail-over, so nothing goes to a lost worker), then this round's start and kill orders and
// container launches, the containers' upkeep, and the `statuses` lines of attempts it ended.
import type { NodeTree } from "../model/tree";
import { CONTAINER_LAUNCHER_ID, launchContainerStarts, type LaunchedStart } from "./container-dispatch";
import { containerUpkeep, type UpkeepResult } from "./container-upkeep";
import type { CommittedStarts } from "./round-commit";
import type { RoundInputs } from "./round-load";
import { addKillOrders, resendOrders, startOrders } from "./round-orders";
import type { PlannedRound, RoundWorkers } from "./round-plan";
import type { EndedAttempt } from "./round-status-log";
import type { RoundContext } from "./round-types";
import { sendAll } from "./send-orders";

export interface ResentOrders {
  /** Orders that failed to go out (dispatch is then not done through this round). */
  failed: number;
  /** When they were sent: the next re-send waits from then. */
  atMs: number;
  containerLaunches: LaunchedStart[];
}

/** Sends again the start orders of rounds after `dispatchedThroughRound`, with their attempts. */
export async function resendUnfinished(
  round: RoundContext,
  inputs: RoundInputs,
  tree: NodeTree,
  workers: RoundWorkers,
): Promise<ResentOrders> {
  const atMs = round.deps.clock();
  const resend = resendOrders({
    items: inputs.items,
    dispatchedThroughRound: inputs.state.dispatchedThroughRound,
    config: inputs.config,
    tree,
    workersById: workers.byId,
    tokenOf: inputs.tokenOf,
    resentAtMs: atMs,
    unknownGraceMs: round.unknownGraceMs,
  });
  round.report.resent = resend.count;
  const { failed } = await sendAll(round.deps, resend.orders);
  return { failed, atMs, containerLaunches: resend.containerLaunches };
}

export interface Dispatched {
  /** Orders that failed to go out. */
  failed: number;
  upkeep: UpkeepResult;
}

/** What the round decided and committed, for its dispatch. */
export interface DispatchInput {
  workers: RoundWorkers;
  planned: PlannedRound;
  committed: CommittedStarts;
  resent: ResentOrders;
  /** Attempts the round's fail-over ended. */
  failedOver: readonly EndedAttempt[];
}

/** Sends the committed starts and the plan's kills, runs containers, and logs attempts ended unseen. */
export async function dispatchPlan(
  round: RoundContext,
  inputs: RoundInputs,
  { workers, planned, committed, resent, failedOver }: DispatchInput,
): Promise<Dispatched> {
  const { deps, lease, report } = round;
  const { plan } = planned;
  const dispatch = startOrders({
    plan,
    round: lease.round,
    config: inputs.config,
    committed: committed.result.committed,
    workersById: workers.byId,
    tokenOf: inputs.tokenOf,
    listDeadlineMs: committed.committedAtMs + round.unknownGraceMs,
  });
  report.started.push(...dispatch.started);
  report.killed = addKillOrders(dispatch.orders, plan, workers.byId, inputs.tokenOf);
  const { failed } = await sendAll(deps, dispatch.orders);
  let upkeep: UpkeepResult = { stopped: [], lost: [] };
  if (deps.containers) {
    const containerDeps = {
      store: deps.store,
      containers: deps.containers,
      clock: deps.clock,
      ...(deps.log ? { log: deps.log } : {}),
    };
    await launchContainerStarts(containerDeps, [...resent.containerLaunches, ...dispatch.containerLaunches]);
    // Kills, maximum runtimes and tasks that stopped unseen (lib/round/container-upkeep.ts).
    upkeep = await containerUpkeep(containerDeps, {
      lease,
      config: inputs.config,
      items: inputs.items,
      kills: plan.kills.filter((kill) => kill.workerId === CONTAINER_LAUNCHER_ID),
      dispatchedThroughRound: inputs.state.dispatchedThroughRound,
      graceMs: round.unknownGraceMs,
    });
  }
  // The attempts this round ended unseen get their `statuses` line (lib/round/round-status-log.ts).
  await deps.statusLog?.([...failedOver, ...upkeep.lost], inputs.tokenOf);
  report.backlog = {
    runnablePending: Math.max(0, plan.stats.candidates - report.started.length),
    running: plan.stats.running + report.started.length,
  };
  return { failed, upkeep };
}
