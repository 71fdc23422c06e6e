// Tasks through the API: paged listings of task items (pending tasks have none and are not
// listed), killing a running attempt (a kill order on its worker's queue, with the job's
// kill_subprocess; for a container job's task, a request the round turns into ECS StopTask), and forgiving failures and backoffs with writes
// conditional on the item version, so a task that starts meanwhile is left alone.
import type { KillMessage } from "../dispatch/messages";
import { sendBatched } from "../dispatch/sqs";
import { readAttemptTokens } from "../store/dispatch-key";
import type { Config, KillRequest } from "../model/config";
import { isInBackoff, statusLabel, toStatusJson } from "../model/status";
import { CONTAINER_LAUNCHER_ID } from "../round/container-dispatch";
import { stateOfStatus } from "../scheduler/task-state";
import { requestContainerKill } from "../store/container-kills";
import { forgive } from "../scheduler/status";
import { ConflictError, NotFoundError } from "../store/errors";
import { replaceIdleTaskStatus } from "../store/replace-task-status";
import { readSchedulerState } from "../store/scheduler-state";
import { getTasks, listTaskPage, readJobsWithTasks, readJobTasks, type TaskItem, type TaskState } from "../store/tasks";
import { getWorker } from "../store/workers";
import { pokeQuietly, type ApiDeps } from "./deps";
import { decodeCursor, encodeCursor, type RouteInput } from "./http";
import { jobsWithItems, readCurrentConfig } from "./state";

export const TASK_STATES: readonly TaskState[] = ["running", "done", "failed", "backoff", "incomplete", "error"];
export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1000;
/** Forgiving a job writes this many items at once. */
const FORGIVE_PARALLEL = 16;
/** Bistro's fallback when neither the job nor the settings say how to kill. */
const DEFAULT_KILL: KillRequest = { method: "term", killWaitMs: 0 };

/** A task item as the API shows it. */
export function taskView(item: TaskItem, nowSec: number) {
  const status = item.status;
  return {
    job: item.job,
    node: item.node,
    state: item.state,
    label: item.running ? "running" : status ? statusLabel(status.bits) : "unstarted",
    version: item.version,
    ...(status ? { status: toStatusJson(status) } : {}),
    ...(status && isInBackoff(status, nowSec) ? { backoffUntilSec: status.timeSec + status.backoffSec } : {}),
    ...(item.lastAttempt ? { lastAttempt: item.lastAttempt } : {}),
    ...(item.running
      ? {
          running: {
            attempt: item.running.attempt,
            worker: item.running.worker,
            workerInstance: item.running.workerInstance,
            startTimeSec: Math.floor(item.running.startedAtMs / 1000),
            startedAtMs: item.running.startedAtMs,
            round: item.running.round,
            charges: item.running.charges,
          },
        }
      : {}),
  };
}

const isTaskCursor = (value: unknown): value is { job: string; node: string } =>
  typeof value === "object" &&
  value !== null &&
  typeof (value as { job?: unknown }).job === "string" &&
  typeof (value as { node?: unknown }).node === "string";

/** `GET /tasks?job&node&state&cursor&limit`: `job` may repeat. */
export async function listTasks(deps: ApiDeps, input: RouteInput) {
  const { query } = input;
  const state = query.oneOf("state", TASK_STATES);
  const limit = query.int("limit", { min: 1, max: MAX_PAGE_LIMIT }) ?? DEFAULT_PAGE_LIMIT;
  const cursor = query.get("cursor");
  const node = query.get("node");
  let jobs = query.all("job").filter((job) => job !== "");
  if (jobs.length === 0) {
    const current = await readCurrentConfig(deps);
    jobs = current ? await jobsWithItems(deps, current.config) : await readJobsWithTasks(deps.store);
  }
  const page = await listTaskPage(deps.store, {
    jobs: [...new Set(jobs)].sort(),
    ...(node !== undefined && node !== "" ? { node } : {}),
    ...(state ? { state } : {}),
    limit,
    ...(cursor ? { after: decodeCursor(cursor, isTaskCursor) } : {}),
  });
  const nowSec = deps.clock() / 1000;
  return {
    tasks: page.tasks.map((item) => taskView(item, nowSec)),
    nextCursor: page.next ? encodeCursor(page.next) : null,
  };
}

/**
 * `GET /tasks/refused`: tasks whose start the store refused outright (e.g. a node name over the
 * key size limit). They have no task item; the scheduler keeps their error status itself.
 */
export async function listRefusedTasks(deps: ApiDeps) {
  const nowSec = deps.clock() / 1000;
  const { refusedTasks } = await readSchedulerState(deps.store);
  return {
    tasks: refusedTasks.map((refusal) => ({
      job: refusal.job,
      node: refusal.nodePrefix,
      nodeLength: refusal.nodeLength,
      nodeSha256: refusal.nodeHash,
      state: stateOfStatus(refusal.status),
      attempt: refusal.attempt,
      reason: refusal.reason,
      status: toStatusJson(refusal.status),
      ...(isInBackoff(refusal.status, nowSec)
        ? { backoffUntilSec: refusal.status.timeSec + refusal.status.backoffSec }
        : {}),
    })),
  };
}

async function readTask(deps: ApiDeps, job: string, node: string): Promise<TaskItem | undefined> {
  return (await getTasks(deps.store, [{ job, node }]))[0];
}

/**
 * Sends a kill order for the running attempt of (job, node) to its worker, with the job's
 * kill_subprocess (the settings' for a job since deleted, as Bistro kills orphans).
 */
export async function killTask(deps: ApiDeps, config: Config | null, job: string, node: string) {
  const item = await readTask(deps, job, node);
  const jobConfig = config && Object.hasOwn(config.jobs, job) ? config.jobs[job] : undefined;
  const running = item?.running;
  if (!item || !running) {
    if (!jobConfig && !item) throw new NotFoundError(`Unknown job ${job}`);
    if (!item) throw new NotFoundError(`Unknown running task ${job}, ${node}: it never started`);
    throw new ConflictError(`Unknown running task ${job}, ${node}: it is not running (state ${item.state})`);
  }
  const request = jobConfig?.killSubprocess ?? config?.settings.killSubprocess ?? DEFAULT_KILL;
  if (running.worker === CONTAINER_LAUNCHER_ID) {
    // Only the round calls ECS: it stops the task (SIGTERM to `sous worker --once`, which kills the
    // task the job's way and reports it killed) and deletes the request.
    const reason = "killed through the API";
    await requestContainerKill(deps.store, {
      job,
      node,
      attempt: running.attempt,
      reason,
      requestedAtMs: deps.clock(),
    });
    await pokeQuietly(deps, "container kill");
    return { job, node, attempt: running.attempt, worker: CONTAINER_LAUNCHER_ID, request };
  }
  const worker = await getWorker(deps.store, running.worker);
  if (!worker) {
    throw new ConflictError(
      `Task ${job}, ${node} runs on worker ${running.worker}, which is no longer registered; the scheduler fails it over`,
    );
  }
  const message: KillMessage = {
    type: "kill",
    job,
    node,
    attempt: running.attempt,
    token: (await readAttemptTokens(deps.store))({ job, node, attempt: running.attempt }),
    request,
    reason: "killed through the API",
  };
  const sent = await sendBatched(deps.sqs, worker.queueUrl, [JSON.stringify(message)]);
  const failure = sent.failed[0];
  if (failure) throw new Error(`Could not send the kill order to ${worker.queueUrl}: ${failure.error}`);
  return { job, node, attempt: running.attempt, worker: worker.id, request };
}

/**
 * Forgives the status the caller saw on an idle item; false when there is nothing to forgive.
 * The write is conditional on the item still holding that status (its version), and is not
 * retried on another: a real status that arrived meanwhile is never overwritten by a forgive
 * decided on an older one (forgive again to forgive the new status).
 */
async function forgiveItem(deps: ApiDeps, item: TaskItem): Promise<boolean> {
  const status = item.status;
  if (item.running || !status) return false;
  const forgiven = forgive(status);
  const changed =
    forgiven.bits !== status.bits ||
    forgiven.backoffSec !== status.backoffSec ||
    forgiven.savedBackoffSec !== status.savedBackoffSec;
  if (!changed) return false;
  return replaceIdleTaskStatus(deps.store, item, forgiven, stateOfStatus(forgiven));
}

/** Forgives one task: it may run again now, its backoff ladder restarted. */
export async function forgiveTask(deps: ApiDeps, job: string, node: string) {
  const item = await readTask(deps, job, node);
  if (!item) {
    const current = await readCurrentConfig(deps);
    if (!current || !Object.hasOwn(current.config.jobs, job)) throw new NotFoundError(`Unknown job ${job}`);
    return { job, node, forgiven: false };
  }
  const forgiven = await forgiveItem(deps, item);
  if (forgiven) await pokeQuietly(deps, `task ${job}, ${node} forgiven`);
  const after = forgiven ? await readTask(deps, job, node) : item;
  return { job, node, forgiven, ...(after ? { task: taskView(after, deps.clock() / 1000) } : {}) };
}

/** Forgives every task of each job (Bistro's forgive_jobs); a job never seen is "Invalid job id". */
export async function forgiveJobs(deps: ApiDeps, config: Config | null, jobs: readonly string[]) {
  const withTasks = new Set(await readJobsWithTasks(deps.store));
  const unknown = jobs.find((job) => !withTasks.has(job) && !(config && Object.hasOwn(config.jobs, job)));
  if (unknown !== undefined) throw new NotFoundError(`Invalid job id: ${unknown}`);
  let forgiven = 0;
  for (const job of jobs) {
    const items = await readJobTasks(deps.store, job);
    for (let i = 0; i < items.length; i += FORGIVE_PARALLEL) {
      const results = await Promise.all(items.slice(i, i + FORGIVE_PARALLEL).map((item) => forgiveItem(deps, item)));
      forgiven += results.filter(Boolean).length;
    }
  }
  if (forgiven > 0) await pokeQuietly(deps, `jobs ${jobs.join(", ")} forgiven`);
  return { jobs: [...jobs], forgiven };
}
