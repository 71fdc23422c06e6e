// One scheduling round against the real state: take or renew the lease, read
// the snapshot, repeat any dispatch an earlier round did not finish, fail over the tasks of
// lost workers, plan (pure), commit the starts in fenced transactions, then send start and
// kill orders. `runRounds` repeats rounds while pokes arrive, so a burst of submissions
// costs few rounds and none is lost.
import { taskId } from "../model/task";
import { ConditionalCheckFailedException, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { parseConfig } from "../config";
import { buildStartMessage } from "./start-message";
import { liveRefusals, nextRefusals, withRefusals } from "./refused-starts";
import { unknownAttemptFinishes } from "./reconcile";
import type { SendResult } from "../dispatch/sqs";
import { addBody, sendAll } from "./send-orders";
import { WORKER_LEVEL, type Config, type Job } from "../model/config";
import { pathToNode } from "../model/tree";
import type { NodeSourceRegistry } from "../nodes";
import { deploymentNodeSources } from "../nodes/deployment-sources";
import { finishTask } from "../scheduler/backoff";
import { planRound } from "../scheduler/plan";
import type { Rng } from "../scheduler/random";
import type { Plan, PlanReason, RoundSnapshot } from "../scheduler/snapshot";
import { workerLost } from "../scheduler/status";
import { getConfig, getCurrentConfigVersion } from "../store/config-store";
import { counterDrift, readCounters, repairCounters, usageOfRunningTasks } from "../store/counters";
import type { StoreContext } from "../store/context";
import { LeaseLostError } from "../store/errors";
import { acquireLease, clearRoundWanted, releaseLease, releaseLeaseUnlessWanted, type Lease } from "../store/lease";
import { readSchedulerState, writeSchedulerState } from "../store/scheduler-state";
import { readAttemptTokens } from "../store/dispatch-key";
import { hashSecret } from "../dispatch/tokens";
import {
  applyFinishes,
  commitStarts,
  readJobsWithTasks,
  readTasks,
  type FinishWrite,
  type LimitedCharge,
  type StartWrite,
} from "../store/tasks";
import { listWorkers, markWorkerLost } from "../store/workers";
import { BISTRO_NODE_TIMINGS, currentNodes, type NodeRefreshTimings, type NodeTreeCache } from "./node-refresh";
import { stateOfStatus } from "./task-state";
import { resourcesByNode, toRecord } from "./task-records";
import { DEFAULT_MAX_IDLE_MS, idleUntil, quietTimers, workersDigest } from "./idle-round";
import { readChangeSequence } from "../store/change-sequence";
import {
  CONTAINER_LAUNCHER_ID,
  launchContainerStarts,
  launcherSnapshot,
  type ContainerLauncher,
  type LaunchedStart,
} from "./container-dispatch";
import { CONTAINER_CHECK_PERIOD_MS, containerUpkeep, type UpkeepResult } from "./container-upkeep";
import { BISTRO_WORKER_TIMINGS, workerSnapshot, type WorkerTimings } from "./worker-health";
import { wakeForTimers, type RoundWaker, type WakeOutcome } from "./wake";
import type { DueTimer } from "../scheduler/timers";

export interface RoundDeps {
  store: StoreContext;
  sqs: SQSClient;
  /** Milliseconds since the epoch. */
  clock: () => number;
  rng: Rng;
  /** Lease owner: unique per process (or Lambda invocation). */
  owner: string;
  /** Name of the instance node (Bistro's --instance_node_name). */
  instanceName: string;
  /** Node sources; default the deployment's (built-ins and `pushed`). */
  nodeSources?: NodeSourceRegistry;
  /** Nodes refresh period and retry; default Bistro's 300 s and 30 s. */
  nodeTimings?: NodeRefreshTimings;
  /** Decoded node tree kept across rounds by a warm process. */
  nodeCache?: NodeTreeCache;
  timings?: WorkerTimings;
  /**
   * How long after its start order was sent an attempt may be missing from its live worker's
   * heartbeat list before the round ends it as lost. Default: heartbeat period + grace (75 s).
   */
  unknownAttemptGraceMs?: number;
  leaseTtlMs?: number;
  /** A full round runs at least this often even when rounds find nothing changed (default 30 min). */
  maxIdleMs?: number;
  /** Sends bodies to one queue; replaced in tests to inject failures. */
  send?: (queueUrl: string, bodies: string[]) => Promise<SendResult>;
  /** Called between planning and committing; tests use it to pause a round. */
  beforeCommit?: (plan: Plan) => Promise<void>;
  /** Parsed-config cache kept across rounds by a warm process. */
  cache?: { version: number; config: Config };
  log?: (event: Record<string, unknown>) => void;
  /** Called after each round, as it ends. */
  onRound?: (report: RoundReport) => void;
  /** Runs (stops, checks) the tasks of jobs with a `container` key as ECS tasks; without it such jobs do not run. */
  containers?: ContainerLauncher;
  /** Sends the wake-up for the round's earliest timer (lib/round/wake.ts); without it only the backstop wakes rounds. */
  waker?: RoundWaker;
}

export interface RoundReport {
  round: number;
  started: { job: string; node: string; attempt: string; worker: string }[];
  /** Starts the commit refused (their state changed since the snapshot); re-planned next round. */
  refused: number;
  /** Starts the store refused outright (e.g. a key over its size limit): recorded as errors with backoff. */
  storeRefused: { job: string; node: string; reason: string }[];
  killed: number;
  /** Start orders of earlier, interrupted rounds sent again. */
  resent: number;
  lostWorkers: string[];
  /** Running attempts their live worker did not list past the grace: ended as errors (lost ends). */
  unknownAttempts: { job: string; node: string; attempt: string; worker: string }[];
  /** Counter amounts found to disagree with running tasks, and set right. */
  repairedCounters: number;
  reasons: PlanReason[];
  nextRoundInSec: number;
  candidatesEvaluated: number;
  /** The nodes refresh this round ran, if one was due. */
  nodes?: { changed: boolean; bytesWritten: number; count: number; error: string | null };
  /**
   * The demand workers scale on, as the round leaves it: tasks that could start now but did not
   * (no worker had room, or there are no workers), and tasks running.
   */
  backlog: { runnablePending: number; running: number };
  /** The earliest timer after this round and what was done about it. */
  wake?: DueTimer & { outcome: WakeOutcome };
  /** Wall time of the round, from its snapshot to its wake-up (what a Lambda bills). */
  durationMs?: number;
}

/** A report of round `round` in which nothing happened yet. */
export function emptyRoundReport(round: number, nextRoundInSec: number): RoundReport {
  return {
    round,
    started: [],
    refused: 0,
    storeRefused: [],
    killed: 0,
    resent: 0,
    lostWorkers: [],
    unknownAttempts: [],
    repairedCounters: 0,
    reasons: [],
    nextRoundInSec,
    candidatesEvaluated: 0,
    backlog: { runnablePending: 0, running: 0 },
  };
}

const DEFAULT_LEASE_TTL_MS = 60_000;

/** Attempt ids are unique forever: round numbers never repeat. */
const attemptId = (round: number, index: number) => `r${round}.${index}`;

async function loadConfig(deps: RoundDeps): Promise<Config | null> {
  const version = await getCurrentConfigVersion(deps.store);
  if (version === null) return null;
  if (deps.cache?.version === version) return deps.cache.config;
  const stored = await getConfig(deps.store, version);
  if (!stored) return null;
  const parsed = parseConfig(stored.document);
  if (!parsed.ok) {
    throw new Error(
      `The stored config version ${version} is invalid: ${parsed.errors.map((e) => e.message).join("; ")}`,
    );
  }
  deps.cache = { version, config: parsed.config };
  return parsed.config;
}

/** Runs one round under `lease` (already held). Throws LeaseLostError when fenced out. */
export async function runRound(deps: RoundDeps, lease: Lease): Promise<RoundReport> {
  const nowMs = deps.clock();
  const nowSec = nowMs / 1000;
  const timings = deps.timings ?? BISTRO_WORKER_TIMINGS;
  const unknownGraceMs = deps.unknownAttemptGraceMs ?? (timings.heartbeatPeriodSec + timings.heartbeatGraceSec) * 1000;
  const report = emptyRoundReport(lease.round, 5);

  // Counters are read before task items: a release landing between the two reads then makes
  // a repair's condition fail instead of inflating a counter (starts cannot land: we hold the lease).
  // The change sequence is read before any task item: a write landing after it bumps it again.
  const [sequence, config, state, workerRecords, jobsWithTasks, counters, tokenOf] = await Promise.all([
    readChangeSequence(deps.store),
    loadConfig(deps),
    readSchedulerState(deps.store),
    listWorkers(deps.store),
    readJobsWithTasks(deps.store),
    readCounters(deps.store),
    readAttemptTokens(deps.store),
  ]);
  if (!config) {
    report.reasons.push({ message: "No config is stored yet: PUT /config (or `sous apply FILE`) to give Sous one." });
    return report;
  }
  const settings = config.settings;
  const workersById = new Map(workerRecords.map((w) => [w.id, w]));
  const items = await readTasks(deps.store, [...new Set([...Object.keys(config.jobs), ...jobsWithTasks])]);
  const drift = counterDrift(counters, usageOfRunningTasks(items));
  if (drift.length > 0) {
    deps.log?.({ event: "counter-drift", drift });
    try {
      await repairCounters(deps.store, lease, drift);
      report.repairedCounters = drift.length;
    } catch (error) {
      // A release raced the repair: the next round looks again.
      if (!(error instanceof TransactionCanceledException)) throw error;
      if (error.CancellationReasons?.[0]?.Code === "ConditionalCheckFailed") throw new LeaseLostError("lease lost");
    }
  }

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
  const tree = nodes.tree;
  if (!tree) {
    report.nextRoundInSec = Math.min(report.nextRoundInSec, untilRefreshSec);
    const { quiet: _stale, ...kept } = state;
    await writeSchedulerState(deps.store, lease, { ...kept, nodes: nodes.mark });
    return report;
  }

  // 1. Fail over the tasks of lost workers (past the deadline by which a worker kills its own
  //    tasks), and of instances replaced by a re-registration (which needs the same deadline).
  const snapshots = workerRecords.map((record) => workerSnapshot(record, nowMs, settings, timings));
  const launcher = deps.containers ? [launcherSnapshot(settings)] : [];
  const lostInstances = new Set<string>();
  for (const [i, worker] of snapshots.entries()) {
    const record = workerRecords[i];
    if (!record || worker.state !== "must_die") continue;
    if (record.lostAtMs === undefined && (await markWorkerLost(deps.store, record.id, record.instanceId, nowMs))) {
      report.lostWorkers.push(record.id);
    }
    lostInstances.add(record.instanceId);
  }
  const lostFinishes: FinishWrite[] = [];
  for (const item of items) {
    const running = item.running;
    if (!running) continue;
    const current = workersById.get(running.worker);
    const gone =
      lostInstances.has(running.workerInstance) || (current && current.instanceId !== running.workerInstance);
    if (!gone) continue;
    const status = finishTask({
      previous: item.status,
      nextBackoff: running.nextBackoff,
      reported: workerLost(running.worker),
      nowSec,
    });
    lostFinishes.push({
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
  const failedOver = new Set(lostFinishes.map((f) => taskId(f.job, f.node)));
  const unknown = unknownAttemptFinishes({
    items,
    workersById,
    dispatchedThroughRound: state.dispatchedThroughRound,
    lastResendAtMs: state.lastResendAtMs,
    graceMs: unknownGraceMs,
    nowSec,
  }).filter((f) => !failedOver.has(taskId(f.job, f.node)));
  lostFinishes.push(...unknown);
  if (lostFinishes.length > 0) {
    const { applied } = await applyFinishes(deps.store, lostFinishes, lease);
    deps.log?.({
      event: "attempts-failed-over",
      round: lease.round,
      attempts: applied.map((f) => ({ job: f.job, node: f.node, attempt: f.attempt })),
    });
    const unknownSet = new Set(unknown);
    const finished = new Map(applied.map((f) => [taskId(f.job, f.node), f]));
    for (const item of items) {
      const finish = finished.get(taskId(item.job, item.node));
      if (!finish) continue;
      if (unknownSet.has(finish)) {
        const worker = item.running?.worker ?? "";
        report.unknownAttempts.push({ job: item.job, node: item.node, attempt: finish.attempt, worker });
      }
      delete item.running;
      item.status = finish.status;
      item.state = finish.state;
      item.version++;
    }
  }

  // 2. Repeat dispatch of rounds that committed starts but may not have sent them all
  //    (after the fail-over, so nothing goes to a lost worker).
  let dispatchFailed = 0;
  const resend = new Map<string, string[]>();
  const resentAtMs = deps.clock();
  // Container starts are launched again with the same RunTask token: one already started is not doubled.
  const containerLaunches: LaunchedStart[] = [];
  for (const item of items) {
    const running = item.running;
    if (!running || running.round <= state.dispatchedThroughRound) continue;
    const job: Job | undefined = config.jobs[item.job];
    const worker = workersById.get(running.worker);
    const node = tree.indexOf.get(item.node);
    if (running.worker === CONTAINER_LAUNCHER_ID) {
      if (!job || node === undefined) continue;
      const order = buildStartMessage({
        job,
        node: item.node,
        attempt: running.attempt,
        token: tokenOf({ job: item.job, node: item.node, attempt: running.attempt }),
        workerId: CONTAINER_LAUNCHER_ID,
        workerInstance: CONTAINER_LAUNCHER_ID,
        workerHost: CONTAINER_LAUNCHER_ID,
        // As at the first launch (the commit time is the start time), so the RunTask is the same.
        listDeadlineMs: running.startedAtMs + unknownGraceMs,
        pathToNode: pathToNode(tree, node),
        resourcesByNode: resourcesByNode(item),
        previous: item.status,
      });
      containerLaunches.push({
        order,
        job,
        charges: running.charges,
        nextBackoff: running.nextBackoff,
        ...(running.tokenHash === undefined ? {} : { tokenHash: running.tokenHash }),
      });
      report.resent++;
      continue;
    }
    // Orphans are killed by the plan; a replaced instance's tasks are failed over below.
    if (!job || !worker || node === undefined || worker.instanceId !== running.workerInstance) continue;
    addBody(
      resend,
      worker.queueUrl,
      buildStartMessage({
        job,
        node: item.node,
        attempt: running.attempt,
        token: tokenOf({ job: item.job, node: item.node, attempt: running.attempt }),
        workerId: worker.id,
        workerInstance: running.workerInstance,
        workerHost: worker.hostname,
        // A re-sent order counts as sent now (recorded as lastResendAtMs).
        listDeadlineMs: resentAtMs + unknownGraceMs,
        pathToNode: pathToNode(tree, node),
        resourcesByNode: resourcesByNode(item),
        previous: item.status,
        physicalResources: settings.physicalResources,
      }),
    );
    report.resent++;
  }
  dispatchFailed += (await sendAll(deps, resend)).failed;

  // 3. Plan. Tasks the store refused earlier plan with the error recorded for them.
  const refusals = liveRefusals(state.refusedTasks, config, tree);
  const records = withRefusals(items.map(toRecord), refusals);
  const snapshot: RoundSnapshot = {
    config,
    tree,
    tasks: records,
    workers: [...snapshots.filter((w) => w.state !== "must_die"), ...launcher],
    orphanTimers: state.orphanTimers,
    workerCursors: state.workerCursors,
  };
  const plan = planRound(snapshot, nowSec, deps.rng);
  report.reasons.push(...plan.reasons);
  report.nextRoundInSec = Math.min(plan.nextRoundInSec, untilRefreshSec);
  report.candidatesEvaluated = plan.stats.candidatesEvaluated;
  await deps.beforeCommit?.(plan);

  // 4. Commit the starts (fenced), then send them.
  const versions = new Map(items.map((item) => [taskId(item.job, item.node), item.version]));
  const capacityOf = new Map([...snapshots, ...launcher].map((w) => [w.id, w.capacity]));
  const writes: StartWrite[] = plan.starts.map((start, index) => ({
    job: start.job,
    node: start.node,
    attempt: attemptId(lease.round, index),
    tokenHash: hashSecret(tokenOf({ job: start.job, node: start.node, attempt: attemptId(lease.round, index) })),
    worker: start.workerId,
    workerInstance:
      start.workerId === CONTAINER_LAUNCHER_ID
        ? CONTAINER_LAUNCHER_ID
        : (workersById.get(start.workerId)?.instanceId ?? ""),
    nextBackoff: start.nextBackoff,
    expectedVersion: versions.get(taskId(start.job, start.node)) ?? null,
    charges: start.usage.flatMap((usage) =>
      Object.entries(usage.resources).map(([resource, amount]): LimitedCharge => ({
        level: usage.level,
        name: usage.node,
        resource,
        amount,
        limit:
          usage.level === WORKER_LEVEL
            ? (capacityOf.get(usage.node)?.[resource] ?? 0)
            : (settings.resources[usage.level]?.[resource]?.limit ?? 0),
      })),
    ),
  }));
  // The start time recorded is the commit's, not the round's: under load a round's reads can take
  // seconds, and reconciliation counts an order's age from it (the deadline in the order agrees).
  const committedAtMs = deps.clock();
  const listDeadlineMs = committedAtMs + unknownGraceMs;
  const committed = await commitStarts(deps.store, lease, writes, committedAtMs);
  report.refused = committed.rejected.length;
  report.storeRefused = committed.refused.map(({ start, reason }) => ({ job: start.job, node: start.node, reason }));
  const refusedTasks = nextRefusals(refusals, records, committed.committed, committed.refused, nowSec);
  const planned = new Map(plan.starts.map((start, index) => [attemptId(lease.round, index), start]));
  const orders = new Map<string, string[]>();
  for (const write of committed.committed) {
    const start = planned.get(write.attempt);
    const job = config.jobs[write.job];
    if (start && job && write.worker === CONTAINER_LAUNCHER_ID) {
      const order = buildStartMessage({
        job,
        node: start.node,
        attempt: write.attempt,
        token: tokenOf(write),
        workerId: CONTAINER_LAUNCHER_ID,
        workerInstance: CONTAINER_LAUNCHER_ID,
        workerHost: CONTAINER_LAUNCHER_ID,
        listDeadlineMs,
        pathToNode: start.pathToNode,
        resourcesByNode: start.resourcesByNode,
        previous: start.previous,
      });
      containerLaunches.push({
        order,
        job,
        charges: write.charges,
        nextBackoff: write.nextBackoff,
        tokenHash: write.tokenHash,
      });
      report.started.push({ job: write.job, node: write.node, attempt: write.attempt, worker: write.worker });
      continue;
    }
    const worker = workersById.get(write.worker);
    if (!start || !worker || !job) continue;
    addBody(
      orders,
      worker.queueUrl,
      buildStartMessage({
        job,
        node: start.node,
        attempt: write.attempt,
        token: tokenOf(write),
        workerId: worker.id,
        workerInstance: write.workerInstance,
        workerHost: worker.hostname,
        listDeadlineMs,
        pathToNode: start.pathToNode,
        resourcesByNode: start.resourcesByNode,
        previous: start.previous,
        physicalResources: settings.physicalResources,
      }),
    );
    report.started.push({ job: write.job, node: write.node, attempt: write.attempt, worker: write.worker });
  }
  for (const kill of plan.kills) {
    if (kill.workerId === CONTAINER_LAUNCHER_ID) report.killed++; // stopped by containerUpkeep below
    const worker = workersById.get(kill.workerId);
    if (!worker) continue;
    addBody(orders, worker.queueUrl, {
      type: "kill",
      job: kill.job,
      node: kill.node,
      attempt: kill.attemptId,
      token: tokenOf({ job: kill.job, node: kill.node, attempt: kill.attemptId }),
      request: kill.request,
      reason: kill.reason,
    });
    report.killed++;
  }
  dispatchFailed += (await sendAll(deps, orders)).failed;
  let upkeep: UpkeepResult = { stopped: [], lost: [] };
  if (deps.containers) {
    const containerDeps = {
      store: deps.store,
      containers: deps.containers,
      clock: deps.clock,
      ...(deps.log ? { log: deps.log } : {}),
    };
    await launchContainerStarts(containerDeps, containerLaunches);
    upkeep = await containerUpkeep(containerDeps, {
      lease,
      config,
      items,
      kills: plan.kills.filter((kill) => kill.workerId === CONTAINER_LAUNCHER_ID),
      dispatchedThroughRound: state.dispatchedThroughRound,
      graceMs: unknownGraceMs,
    });
  }
  report.backlog = {
    runnablePending: Math.max(0, plan.stats.candidates - report.started.length),
    running: plan.stats.running + report.started.length,
  };

  // 5. Carry state to the next round. Dispatch counts as done only if every order went out. A
  //    round that changed nothing leaves a quiet mark, so the next ones can stop early.
  const changed =
    report.started.length +
    report.refused +
    report.storeRefused.length +
    report.killed +
    report.resent +
    lostFinishes.length +
    drift.length +
    dispatchFailed +
    upkeep.stopped.length +
    upkeep.lost.length +
    report.lostWorkers.length;
  const quiet =
    changed === 0 && !report.nodes?.changed && deps.cache
      ? {
          sequence,
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
            unknownAttemptGraceMs: unknownGraceMs,
            nodesDueMs: nodes.nextDueMs,
            // Running container tasks are looked at in ECS every check period (lib/round/container-upkeep.ts).
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
    nowSec,
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
      await clearRoundWanted(deps.store, lease).catch((error: unknown) => {
        throw error instanceof ConditionalCheckFailedException ? new LeaseLostError("lease lost") : error;
      });
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
