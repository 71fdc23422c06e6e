// One scheduling round against the real state, in four steps: load (lib/round/round-load.ts),
// plan (pure: lib/scheduler/plan.ts, lib/round/fail-over.ts, lib/round/round-orders.ts), commit
// (fenced transactions) and dispatch (start and kill orders). Before planning, a round repairs
// counter drift, refreshes nodes when due, fails over the tasks of lost workers and repeats any
// dispatch an earlier round did not finish. `runRounds` repeats rounds while pokes arrive, so a
// burst of submissions costs few rounds and none is lost.
import type { NodeTree } from "../model/tree";
import { deploymentNodeSources } from "../nodes/deployment-sources";
import { planRound } from "../scheduler/plan";
import type { Plan, RoundSnapshot, TaskRecord } from "../scheduler/snapshot";
import { LeaseLostError } from "../store/errors";
import { acquireLease, clearRoundWanted, releaseLease, releaseLeaseUnlessWanted, type Lease } from "../store/lease";
import { writeSchedulerState } from "../store/scheduler-state";
import { commitStarts } from "../store/tasks";
import { CONTAINER_LAUNCHER_ID, launchContainerStarts, launcherSnapshot } from "./container-dispatch";
import { CONTAINER_CHECK_PERIOD_MS, containerUpkeep, type UpkeepResult } from "./container-upkeep";
import { commitFailOver, repairDrift, type RoundContext } from "./round-commit";
import { DEFAULT_MAX_IDLE_MS, idleUntil, quietTimers, workersDigest } from "./idle-round";
import { BISTRO_NODE_TIMINGS, currentNodes } from "./node-refresh";
import { liveRefusals, nextRefusals, withRefusals } from "./refused-starts";
import { loadRound } from "./round-load";
import { addKillOrders, resendOrders, startOrders, startWrites } from "./round-orders";
import { emptyRoundReport, type RoundDeps, type RoundReport } from "./round-types";
import { sendAll } from "./send-orders";
import { promoteDone } from "./task-cache";
import { toRecord } from "./task-records";
import { wakeForTimers } from "./wake";
import { BISTRO_WORKER_TIMINGS, workerSnapshot } from "../scheduler/worker-health";

export { emptyRoundReport, type RoundDeps, type RoundReport } from "./round-types";

const DEFAULT_LEASE_TTL_MS = 60_000;

/** Runs one round under `lease` (already held). Throws LeaseLostError when fenced out. */
export async function runRound(deps: RoundDeps, lease: Lease): Promise<RoundReport> {
  const nowMs = deps.clock();
  const timings = deps.timings ?? BISTRO_WORKER_TIMINGS;
  const round: RoundContext = {
    deps,
    lease,
    nowMs,
    nowSec: nowMs / 1000,
    timings,
    unknownGraceMs: deps.unknownAttemptGraceMs ?? (timings.heartbeatPeriodSec + timings.heartbeatGraceSec) * 1000,
    report: emptyRoundReport(lease.round, 5),
  };
  const report = round.report;

  // Load.
  const inputs = await loadRound(deps);
  if (!inputs) {
    report.reasons.push({ message: "No config is stored yet: PUT /config (or `sous apply FILE`) to give Sous one." });
    return report;
  }
  const { config, state, workerRecords, items, tokenOf } = inputs;
  const settings = config.settings;
  const workersById = new Map(workerRecords.map((w) => [w.id, w]));
  const drift = await repairDrift(round, inputs);

  const nodes = await currentNodes(
    {
      store: deps.store,
      registry: deps.nodeSources ?? deploymentNodeSources({ store: deps.store }),
      instanceName: deps.instanceName,
      timings: deps.nodeTimings ?? BISTRO_NODE_TIMINGS,
      ...(deps.nodeCache ? { cache: deps.nodeCache } : {}),
    },
    settings,
    state.nodes,
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
  const untilRefreshSec = Math.max(0.05, (nodes.nextDueMs - nowMs) / 1000);
  if (nodes.mark.error !== null) {
    const kept = nodes.tree ? " (the last good node set is used)" : "";
    report.reasons.push({ message: `Nodes could not be refreshed${kept}: ${nodes.mark.error}` });
  }
  const tree: NodeTree | null = nodes.tree;
  if (!tree) {
    report.nextRoundInSec = Math.min(report.nextRoundInSec, untilRefreshSec);
    const { quiet: _stale, ...kept } = state;
    await writeSchedulerState(deps.store, lease, { ...kept, nodes: nodes.mark });
    return report;
  }

  // Before planning: end what ended unseen, then repeat unfinished dispatch (after the fail-over,
  // so nothing goes to a lost worker).
  const snapshots = workerRecords.map((record) => workerSnapshot(record, nowMs, settings, timings));
  const launcher = deps.containers ? [launcherSnapshot(settings)] : [];
  const failOver = await commitFailOver(round, inputs, snapshots);
  const failedOver = failOver.written;
  const resentAtMs = deps.clock();
  const resend = resendOrders({
    items,
    dispatchedThroughRound: state.dispatchedThroughRound,
    config,
    tree,
    workersById,
    tokenOf,
    resentAtMs,
    unknownGraceMs: round.unknownGraceMs,
  });
  report.resent = resend.count;
  let dispatchFailed = (await sendAll(deps, resend.orders)).failed;

  // Plan (pure). Tasks the store refused earlier plan with the error recorded for them.
  const refusals = liveRefusals(state.refusedTasks, config, tree);
  // A refusal applies to its task's record: a done task it names is walked whole this round.
  const refused = refusals.map(({ refusal, node }) => ({ job: refusal.job, node }));
  if (deps.taskCache) items.push(...promoteDone(deps.taskCache, refused));
  const records: TaskRecord[] = withRefusals(items.map(toRecord), refusals);
  const snapshot: RoundSnapshot = {
    config,
    tree,
    tasks: records,
    done: inputs.done.codesFor(tree),
    workers: [...snapshots.filter((w) => w.state !== "must_die"), ...launcher],
    orphanTimers: state.orphanTimers,
    workerCursors: state.workerCursors,
  };
  const plan: Plan = planRound(snapshot, round.nowSec, deps.rng);
  report.reasons.push(...plan.reasons);
  report.nextRoundInSec = Math.min(plan.nextRoundInSec, untilRefreshSec);
  report.candidatesEvaluated = plan.stats.candidatesEvaluated;
  await deps.beforeCommit?.(plan);

  // Commit the starts (fenced). The start time recorded is the commit's, not the round's: under
  // load a round's reads can take seconds, and reconciliation counts an order's age from it (the
  // deadline in the order agrees).
  const writes = startWrites({
    plan,
    round: lease.round,
    settings,
    items,
    workersById,
    capacityOf: new Map([...snapshots, ...launcher].map((w) => [w.id, w.capacity])),
    tokenOf,
  });
  const committedAtMs = deps.clock();
  const committed = await commitStarts(deps.store, lease, writes, committedAtMs);
  report.refused = committed.rejected.length;
  report.storeRefused = committed.refused.map(({ start, reason }) => ({ job: start.job, node: start.node, reason }));
  const refusedTasks = nextRefusals(refusals, records, committed.committed, committed.refused, round.nowSec);

  // Dispatch: start orders, kill orders, container launches.
  const dispatch = startOrders({
    plan,
    round: lease.round,
    config,
    committed: committed.committed,
    workersById,
    tokenOf,
    listDeadlineMs: committedAtMs + round.unknownGraceMs,
  });
  report.started.push(...dispatch.started);
  report.killed = addKillOrders(dispatch.orders, plan, workersById, tokenOf);
  dispatchFailed += (await sendAll(deps, dispatch.orders)).failed;
  let upkeep: UpkeepResult = { stopped: [], lost: [] };
  if (deps.containers) {
    const containerDeps = {
      store: deps.store,
      containers: deps.containers,
      clock: deps.clock,
      ...(deps.log ? { log: deps.log } : {}),
    };
    await launchContainerStarts(containerDeps, [...resend.containerLaunches, ...dispatch.containerLaunches]);
    // Kills, maximum runtimes and tasks that stopped unseen (lib/round/container-upkeep.ts).
    upkeep = await containerUpkeep(containerDeps, {
      lease,
      config,
      items,
      kills: plan.kills.filter((kill) => kill.workerId === CONTAINER_LAUNCHER_ID),
      dispatchedThroughRound: state.dispatchedThroughRound,
      graceMs: round.unknownGraceMs,
    });
  }
  // The attempts this round ended unseen get their `statuses` line (lib/round/round-status-log.ts).
  await deps.statusLog?.([...failOver.ended, ...upkeep.lost], inputs.tokenOf);
  report.backlog = {
    runnablePending: Math.max(0, plan.stats.candidates - report.started.length),
    running: plan.stats.running + report.started.length,
  };

  // Carry state to the next round. Dispatch counts as done only if every order went out. A
  // round that changed nothing leaves a quiet mark, so the next ones can stop early.
  const changed =
    report.started.length +
    report.refused +
    report.storeRefused.length +
    report.killed +
    report.resent +
    failedOver +
    drift.length +
    dispatchFailed +
    upkeep.stopped.length +
    upkeep.lost.length +
    report.lostWorkers.length;
  const quiet =
    changed === 0 && !report.nodes?.changed && deps.cache
      ? {
          sequence: inputs.sequence,
          configVersion: deps.cache.version,
          workers: workersDigest(workerRecords, nowMs, timings),
          ...quietTimers({
            nowMs,
            config,
            records,
            items,
            orphanTimers: plan.orphanTimers,
            workersById,
            dispatchedThroughRound: state.dispatchedThroughRound,
            lastResendAtMs: state.lastResendAtMs,
            unknownAttemptGraceMs: round.unknownGraceMs,
            nodesDueMs: nodes.nextDueMs,
            // Running container tasks are looked at in ECS every check period (container-upkeep.ts).
            maxIdleMs: items.some((item) => item.running?.worker === CONTAINER_LAUNCHER_ID)
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
    refusedTasks,
    lastResendAtMs: report.resent > 0 ? resentAtMs : state.lastResendAtMs,
    ...(quiet ? { quiet } : {}),
  });
  for (const { job, node, reason } of report.storeRefused) {
    deps.log?.({ event: "start-refused-by-store", job, node: node.slice(0, 256), nodeLength: node.length, reason });
  }
  const wake = await wakeForTimers(deps, lease, {
    config,
    tasks: records,
    orphanTimers: plan.orphanTimers,
    nowSec: round.nowSec,
    nodes: nodes.mark,
  });
  if (wake) report.wake = wake;
  report.durationMs = deps.clock() - nowMs;
  deps.log?.({ event: "round", ...report, started: report.started.length, storeRefused: report.storeRefused.length });
  return report;
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
