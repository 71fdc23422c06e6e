// One scheduling round against the real state: load (./round-load.ts), repairs and fail-over
// (./round-commit.ts), the node tree (./node-refresh.ts), re-sends (./round-dispatch.ts), plan
// (./round-plan.ts over the pure lib/scheduler/plan.ts), commit the starts (./round-commit.ts),
// dispatch (./round-dispatch.ts) and close (./round-close.ts: the state for the next round and
// its wake-up). `runRounds` repeats rounds while pokes arrive, so a burst of submissions costs few
// rounds and none is lost.
import { deploymentNodeSources } from "../nodes/deployment-sources";
import { LeaseLostError } from "../store/errors";
import { acquireLease, clearRoundWanted, releaseLease, releaseLeaseUnlessWanted, type Lease } from "../store/lease";
import { writeSchedulerState } from "../store/scheduler-state";
import { BISTRO_WORKER_TIMINGS } from "../scheduler/worker-health";
import { idleUntil } from "./idle-round";
import { BISTRO_NODE_TIMINGS, currentNodes, type CurrentNodes } from "./node-refresh";
import { closeRound } from "./round-close";
import { commitFailOver, commitPlannedStarts, repairDrift } from "./round-commit";
import { dispatchPlan, resendUnfinished } from "./round-dispatch";
import { loadRound, type RoundInputs } from "./round-load";
import { planTasks, roundWorkers } from "./round-plan";
import { roundContext, type RoundContext, type RoundDeps, type RoundReport } from "./round-types";

export { emptyRoundReport, type RoundDeps, type RoundReport } from "./round-types";

const DEFAULT_LEASE_TTL_MS = 60_000;

/** Runs one round under `lease` (already held). Throws LeaseLostError when fenced out. */
export async function runRound(deps: RoundDeps, lease: Lease): Promise<RoundReport> {
  const round = roundContext(deps, lease);
  const { report } = round;

  const inputs = await loadRound(deps);
  if (!inputs) {
    report.reasons.push({ message: "No config is stored yet: PUT /config (or `sous apply FILE`) to give Sous one." });
    return report;
  }
  const drift = await repairDrift(round, inputs);
  const { nodes, untilRefreshSec } = await roundNodes(round, inputs);
  if (!nodes.tree) {
    report.nextRoundInSec = Math.min(report.nextRoundInSec, untilRefreshSec);
    const { quiet: _stale, ...kept } = inputs.state;
    await writeSchedulerState(deps.store, lease, { ...kept, nodes: nodes.mark });
    return report;
  }

  // Before planning: end what ended unseen, then repeat unfinished dispatch (after the fail-over,
  // so nothing goes to a lost worker).
  const workers = roundWorkers(round, inputs);
  const failOver = await commitFailOver(round, inputs, workers.snapshots);
  const resent = await resendUnfinished(round, inputs, nodes.tree, workers);

  const planned = planTasks(round, inputs, nodes.tree, workers, untilRefreshSec);
  await deps.beforeCommit?.(planned.plan);
  const committed = await commitPlannedStarts(round, inputs, planned, workers);
  const dispatched = await dispatchPlan(round, inputs, {
    workers,
    planned,
    committed,
    resent,
    failedOver: failOver.ended,
  });
  await closeRound(round, inputs, {
    drift,
    nodes,
    workers,
    failedOver: failOver.written,
    resent,
    planned,
    committed,
    dispatched,
  });
  report.durationMs = deps.clock() - round.nowMs;
  deps.log?.({ event: "round", ...report, started: report.started.length, storeRefused: report.storeRefused.length });
  return report;
}

/** The node tree the round plans over: the stored one, refreshed first when due. */
async function roundNodes(
  round: RoundContext,
  inputs: RoundInputs,
): Promise<{ nodes: CurrentNodes; untilRefreshSec: number }> {
  const { deps, report, nowMs } = round;
  const nodes = await currentNodes(
    {
      store: deps.store,
      registry: deps.nodeSources ?? deploymentNodeSources({ store: deps.store }),
      instanceName: deps.instanceName,
      timings: deps.nodeTimings ?? BISTRO_NODE_TIMINGS,
      ...(deps.nodeCache ? { cache: deps.nodeCache } : {}),
    },
    inputs.config.settings,
    inputs.state.nodes,
    nowMs,
  );
  if (nodes.cache) deps.nodeCache = nodes.cache;
  if (nodes.refreshed) {
    report.nodes = {
      changed: nodes.changed,
      bytesWritten: nodes.bytesWritten,
      count: nodes.tree ? nodes.tree.size - 1 : 0,
      error: nodes.mark.error,
    };
  }
  if (nodes.mark.error !== null) {
    const kept = nodes.tree ? " (the last good node set is used)" : "";
    report.reasons.push({ message: `Nodes could not be refreshed${kept}: ${nodes.mark.error}` });
  }
  return { nodes, untilRefreshSec: Math.max(0.05, (nodes.nextDueMs - nowMs) / 1000) };
}

/**
 * Takes the lease and runs rounds until no poke arrived during the last one (at most
 * `maxRounds`, and none started once `timeLeftMs` says too little time is left), then
 * releases it; a round still wanted at that point is asked for again through `retrigger`.
 * Returns the reports; none when another holder runs rounds (it will see the poke).
 */
export async function runRounds(
  deps: RoundDeps,
  maxRounds = 10,
  limits: { timeLeftMs?: () => number; minTimeMs?: number; retrigger?: () => Promise<void> } = {},
): Promise<RoundReport[]> {
  const ttl = deps.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
  const idleForSec = await idleUntil(deps.store, deps.clock(), deps.timings ?? BISTRO_WORKER_TIMINGS);
  if (idleForSec !== null) {
    deps.log?.({ event: "round-idle", wakeInSec: idleForSec });
    return [];
  }
  let lease = await acquireLease(deps.store, deps.owner, deps.clock(), ttl);
  const reports: RoundReport[] = [];
  let wantedAgain = false;
  try {
    while (lease) {
      await clearRoundWanted(deps.store, lease);
      const report = await runRound(deps, lease);
      reports.push(report);
      deps.onRound?.(report);
      if (await releaseLeaseUnlessWanted(deps.store, lease)) {
        lease = null;
        break;
      }
      const outOfTime = limits.timeLeftMs !== undefined && limits.timeLeftMs() < (limits.minTimeMs ?? 30_000);
      if (reports.length >= maxRounds || outOfTime) {
        wantedAgain = true;
        break;
      }
      lease = await acquireLease(deps.store, deps.owner, deps.clock(), ttl, lease);
    }
  } catch (error) {
    if (!(error instanceof LeaseLostError)) throw error;
    deps.log?.({ event: "lease-lost", owner: deps.owner });
    lease = null;
  } finally {
    // Never sit on the lease: the next round (ours via retrigger, or anyone's) can start at once.
    if (lease) await releaseLease(deps.store, lease).catch(() => undefined);
  }
  if (wantedAgain) await limits.retrigger?.();
  return reports;
}
