// What the round asks ECS about container jobs' tasks after RunTask: stopping an attempt's task
// (kill orders, orphans, a maximum runtime passed) and reading what became of attempts whose end
// has not arrived (running, stopped with ECS's reason, or unknown). Tasks are found by their
// per-attempt `startedBy` (lib/dispatch/run-task.ts). Requests stay few and batched: one
// ListTasks page per 100 running tasks of a family and one DescribeTasks per 100 tasks.
import {
  DescribeTasksCommand,
  ListTasksCommand,
  paginateListTasks,
  StopTaskCommand,
  type ECSClient,
  type Task,
} from "@aws-sdk/client-ecs";
import { attemptOfStartedBy, familyOf, startedByOf, type ContainerSetup } from "./run-task";

/** DescribeTasks takes at most 100 tasks per call. */
const DESCRIBE_BATCH = 100;
/** StopTask's reason is cut to this many characters. */
const MAX_STOP_REASON = 255;
/** Stop and lookup calls in flight at once. */
const CONCURRENCY = 5;
/** At most this many stopped attempts are looked up one by one per check (the rest wait for the next). */
export const MAX_STOPPED_LOOKUPS = 50;

export interface ContainerStop {
  attempt: string;
  reason: string;
}

export interface StopResult {
  /** Attempts whose task was asked to stop. */
  stopped: string[];
  /** Attempts with no running task (already stopped, or never started). */
  notRunning: string[];
  failed: { attempt: string; reason: string }[];
}

/** What ECS says of an attempt's task. */
export type ContainerTaskState =
  | { state: "running" }
  | { state: "stopped"; stoppedReason: string; stoppedAtMs?: number; exitCode?: number }
  | { state: "unknown" };

export interface CheckedAttempt {
  attempt: string;
  /** The job's task definition name (its family is listed). */
  taskDefinition: string;
}

async function inLanes<T>(items: readonly T[], run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(CONCURRENCY, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++];
      if (item !== undefined) await run(item);
    }
  });
  await Promise.all(lanes);
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Asks ECS to stop each attempt's running task, with the reason (shown as its stoppedReason). Never throws. */
export async function stopContainerTasks(
  ecs: ECSClient,
  setup: ContainerSetup,
  stops: readonly ContainerStop[],
): Promise<StopResult> {
  const result: StopResult = { stopped: [], notRunning: [], failed: [] };
  await inLanes(stops, async ({ attempt, reason }) => {
    try {
      const listed = await ecs.send(
        new ListTasksCommand({ cluster: setup.cluster, startedBy: startedByOf(attempt), desiredStatus: "RUNNING" }),
      );
      const arns = listed.taskArns ?? [];
      if (arns.length === 0) {
        result.notRunning.push(attempt);
        return;
      }
      for (const task of arns) {
        await ecs.send(
          new StopTaskCommand({ cluster: setup.cluster, task, reason: `Sous: ${reason}`.slice(0, MAX_STOP_REASON) }),
        );
      }
      result.stopped.push(attempt);
    } catch (error) {
      result.failed.push({ attempt, reason: messageOf(error) });
    }
  });
  return result;
}

async function describe(ecs: ECSClient, cluster: string, arns: readonly string[]): Promise<Task[]> {
  const tasks: Task[] = [];
  for (let i = 0; i < arns.length; i += DESCRIBE_BATCH) {
    const answer = await ecs.send(new DescribeTasksCommand({ cluster, tasks: arns.slice(i, i + DESCRIBE_BATCH) }));
    tasks.push(...(answer.tasks ?? []));
  }
  return tasks;
}

function stoppedState(task: Task): ContainerTaskState {
  const container = task.containers?.[0];
  const reasons = [task.stoppedReason, container?.reason].filter((r): r is string => !!r);
  return {
    state: "stopped",
    stoppedReason: reasons.length > 0 ? reasons.join("; ") : "no reason given",
    ...(task.stoppedAt ? { stoppedAtMs: task.stoppedAt.getTime() } : {}),
    ...(container?.exitCode === undefined ? {} : { exitCode: container.exitCode }),
  };
}

/**
 * What became of these attempts' tasks. The running tasks of their families are listed and
 * described in pages of 100; an attempt not among them is looked up by its `startedBy` among
 * stopped tasks (at most MAX_STOPPED_LOOKUPS per call; the others are left out of the answer).
 * ECS keeps stopped tasks for about an hour: an attempt found nowhere is `unknown`. Throws on
 * ECS errors (the caller checks again later).
 */
export async function checkContainerTasks(
  ecs: ECSClient,
  setup: ContainerSetup,
  attempts: readonly CheckedAttempt[],
): Promise<Map<string, ContainerTaskState>> {
  const states = new Map<string, ContainerTaskState>();
  if (attempts.length === 0) return states;
  const wanted = new Set(attempts.map((a) => a.attempt));
  const families = new Set<string>();
  for (const { taskDefinition } of attempts) {
    const arn = setup.taskDefinitions[taskDefinition]?.arn;
    if (arn) families.add(familyOf(arn));
  }
  for (const family of families) {
    const arns: string[] = [];
    for await (const page of paginateListTasks(
      { client: ecs, pageSize: DESCRIBE_BATCH },
      { cluster: setup.cluster, family, desiredStatus: "RUNNING" },
    )) {
      arns.push(...(page.taskArns ?? []));
    }
    for (const task of await describe(ecs, setup.cluster, arns)) {
      const attempt = attemptOfStartedBy(task.startedBy);
      if (attempt !== undefined && wanted.has(attempt)) states.set(attempt, { state: "running" });
    }
  }
  const missing = attempts.filter((a) => !states.has(a.attempt)).slice(0, MAX_STOPPED_LOOKUPS);
  const stoppedArns: string[] = [];
  await inLanes(missing, async ({ attempt }) => {
    const listed = await ecs.send(
      new ListTasksCommand({ cluster: setup.cluster, startedBy: startedByOf(attempt), desiredStatus: "STOPPED" }),
    );
    const arns = listed.taskArns ?? [];
    if (arns.length === 0) states.set(attempt, { state: "unknown" });
    stoppedArns.push(...arns);
  });
  for (const task of await describe(ecs, setup.cluster, stoppedArns)) {
    const attempt = attemptOfStartedBy(task.startedBy);
    if (attempt === undefined || !wanted.has(attempt)) continue;
    // A task stopping (desired STOPPED, not yet STOPPED) is still running as far as its end goes.
    states.set(attempt, task.lastStatus === "STOPPED" ? stoppedState(task) : { state: "running" });
  }
  return states;
}
