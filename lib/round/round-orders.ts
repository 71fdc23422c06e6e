// The round's writes and orders, computed from its plan and inputs. Pure: the round commits the
// start writes and sends the bodies. Start orders of earlier rounds are re-sent, committed starts
// become start orders (or container launches) and the plan's kills become kill orders.
import type { AttemptTokens } from "../dispatch/tokens";
import { hashSecret } from "../dispatch/tokens";
import { WORKER_LEVEL, type Config, type Job, type ResourceAmounts, type Settings } from "../model/config";
import { taskId } from "../model/task";
import { pathToNode, type NodeTree } from "../model/tree";
import type { Plan } from "../scheduler/snapshot";
import type { LimitedCharge, StartWrite, TaskItem } from "../store/tasks";
import type { WorkerRecord } from "../store/workers";
import { CONTAINER_LAUNCHER_ID, type LaunchedStart } from "./container-dispatch";
import { addBody } from "./send-orders";
import { buildStartMessage } from "./start-message";
import { resourcesByNode } from "./task-records";

/** Attempt ids are unique forever: round numbers never repeat. */
export const attemptId = (round: number, index: number) => `r${round}.${index}`;

/** Bodies per worker queue. */
export type Orders = Map<string, string[]>;

export interface ResendInput {
  items: readonly TaskItem[];
  dispatchedThroughRound: number;
  config: Config;
  tree: NodeTree;
  workersById: ReadonlyMap<string, WorkerRecord>;
  tokenOf: AttemptTokens;
  /** When the re-sent orders count as sent (recorded as lastResendAtMs). */
  resentAtMs: number;
  unknownGraceMs: number;
}

/**
 * Start orders of rounds that committed starts but may not have sent them all (computed after
 * the fail-over, so nothing goes to a lost worker). Container starts are launched again with the
 * same RunTask (same token): one that was started already is not started twice.
 */
export function resendOrders(input: ResendInput): {
  orders: Orders;
  containerLaunches: LaunchedStart[];
  count: number;
} {
  const orders: Orders = new Map();
  const containerLaunches: LaunchedStart[] = [];
  let count = 0;
  const settings = input.config.settings;
  for (const item of input.items) {
    const running = item.running;
    if (!running || running.round <= input.dispatchedThroughRound) continue;
    const job: Job | undefined = input.config.jobs[item.job];
    const worker = input.workersById.get(running.worker);
    const node = input.tree.indexOf.get(item.node);
    if (running.worker === CONTAINER_LAUNCHER_ID) {
      if (!job || node === undefined) continue;
      const order = buildStartMessage({
        job,
        node: item.node,
        attempt: running.attempt,
        token: input.tokenOf({ job: item.job, node: item.node, attempt: running.attempt }),
        workerId: CONTAINER_LAUNCHER_ID,
        workerInstance: CONTAINER_LAUNCHER_ID,
        workerHost: CONTAINER_LAUNCHER_ID,
        // As at the first launch (the commit time is the start time), so the RunTask is the same.
        listDeadlineMs: running.startedAtMs + input.unknownGraceMs,
        pathToNode: pathToNode(input.tree, node),
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
      count++;
      continue;
    }
    // Orphans are killed by the plan; a replaced instance's tasks are failed over.
    if (!job || !worker || node === undefined || worker.instanceId !== running.workerInstance) continue;
    addBody(
      orders,
      worker.queueUrl,
      buildStartMessage({
        job,
        node: item.node,
        attempt: running.attempt,
        token: input.tokenOf({ job: item.job, node: item.node, attempt: running.attempt }),
        workerId: worker.id,
        workerInstance: running.workerInstance,
        workerHost: worker.hostname,
        listDeadlineMs: input.resentAtMs + input.unknownGraceMs,
        pathToNode: pathToNode(input.tree, node),
        resourcesByNode: resourcesByNode(item),
        previous: item.status,
        physicalResources: settings.physicalResources,
      }),
    );
    count++;
  }
  return { orders, containerLaunches, count };
}

export interface StartWritesInput {
  plan: Plan;
  round: number;
  settings: Settings;
  items: readonly TaskItem[];
  workersById: ReadonlyMap<string, WorkerRecord>;
  /** Capacity per worker id (and the container launcher) the plan used. */
  capacityOf: ReadonlyMap<string, ResourceAmounts>;
  tokenOf: AttemptTokens;
}

/** The conditional writes of the plan's starts, each with the limits it was planned against. */
export function startWrites(input: StartWritesInput): StartWrite[] {
  const versions = versionsOf(input.items, input.plan.starts);
  return input.plan.starts.map((start, index) => {
    const attempt = attemptId(input.round, index);
    return {
      job: start.job,
      node: start.node,
      attempt,
      tokenHash: hashSecret(input.tokenOf({ job: start.job, node: start.node, attempt })),
      worker: start.workerId,
      workerInstance:
        start.workerId === CONTAINER_LAUNCHER_ID
          ? CONTAINER_LAUNCHER_ID
          : (input.workersById.get(start.workerId)?.instanceId ?? ""),
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
              ? (input.capacityOf.get(usage.node)?.[resource] ?? 0)
              : (input.settings.resources[usage.level]?.[resource]?.limit ?? 0),
        })),
      ),
    };
  });
}

export interface StartOrdersInput {
  plan: Plan;
  round: number;
  config: Config;
  committed: readonly StartWrite[];
  workersById: ReadonlyMap<string, WorkerRecord>;
  tokenOf: AttemptTokens;
  /** By when the attempt must show in its worker's heartbeat list (commit time + grace). */
  listDeadlineMs: number;
}

export interface StartOrders {
  orders: Orders;
  containerLaunches: LaunchedStart[];
  started: { job: string; node: string; attempt: string; worker: string }[];
}

/** The versions of the items of `tasks`, by task id (a pass over the items that makes no string). */
function versionsOf(items: readonly TaskItem[], tasks: readonly { job: string; node: string }[]): Map<string, number> {
  const versions = new Map<string, number>();
  if (tasks.length === 0) return versions;
  const nodesOf = new Map<string, Set<string>>();
  for (const { job, node } of tasks) {
    let nodes = nodesOf.get(job);
    if (!nodes) nodesOf.set(job, (nodes = new Set()));
    nodes.add(node);
  }
  for (const item of items) {
    if (nodesOf.get(item.job)?.has(item.node)) versions.set(taskId(item.job, item.node), item.version);
  }
  return versions;
}

/** Start orders (and container launches) for the starts that committed. */
export function startOrders(input: StartOrdersInput): StartOrders {
  const result: StartOrders = { orders: new Map(), containerLaunches: [], started: [] };
  const planned = new Map(input.plan.starts.map((start, index) => [attemptId(input.round, index), start]));
  for (const write of input.committed) {
    const start = planned.get(write.attempt);
    const job = input.config.jobs[write.job];
    const toContainer = write.worker === CONTAINER_LAUNCHER_ID;
    const worker = toContainer ? undefined : input.workersById.get(write.worker);
    if (!start || !job || (!toContainer && !worker)) continue;
    const order = buildStartMessage({
      job,
      node: start.node,
      attempt: write.attempt,
      token: input.tokenOf(write),
      workerId: worker?.id ?? CONTAINER_LAUNCHER_ID,
      workerInstance: write.workerInstance,
      workerHost: worker?.hostname ?? CONTAINER_LAUNCHER_ID,
      listDeadlineMs: input.listDeadlineMs,
      pathToNode: start.pathToNode,
      resourcesByNode: start.resourcesByNode,
      previous: start.previous,
      ...(worker ? { physicalResources: input.config.settings.physicalResources } : {}),
    });
    if (worker) addBody(result.orders, worker.queueUrl, order);
    else {
      const { charges, nextBackoff, tokenHash } = write;
      result.containerLaunches.push({ order, job, charges, nextBackoff, tokenHash });
    }
    result.started.push({ job: write.job, node: write.node, attempt: write.attempt, worker: write.worker });
  }
  return result;
}

/** Kill orders for the plan's kills, added to `orders`; returns how many. */
export function addKillOrders(
  orders: Orders,
  plan: Plan,
  workersById: ReadonlyMap<string, WorkerRecord>,
  tokenOf: AttemptTokens,
): number {
  let killed = 0;
  for (const kill of plan.kills) {
    if (kill.workerId === CONTAINER_LAUNCHER_ID) killed++; // stopped with ECS StopTask (container-upkeep.ts)
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
    killed++;
  }
  return killed;
}
