// The round's care of container jobs' running tasks after RunTask, the counterpart of what
// workers do for their own tasks: kill orders (the API's, recorded in the store, and orphan kills
// of the plan) become ECS StopTask calls with the reason; a task past its job's maximum runtime
// whose container did not stop it itself is stopped; and tasks that stopped without their end
// reaching the status queue (out of memory, capacity reclaimed, an image that cannot be pulled)
// are found with a periodic, batched look at ECS and ended like an attempt whose worker lost it,
// with ECS's stoppedReason in the status and in the attempt's `statuses` log stream (written by
// the round: ./round-status-log.ts). docs/containers.md describes it.
import { taskId } from "../model/task";
import type { Config } from "../model/config";
import type { ReportedStatus } from "../model/status";
import type { ContainerStop, ContainerTaskState } from "../dispatch/ecs-tasks";
import { finishTask } from "../scheduler/backoff";
import type { TaskKill } from "../scheduler/snapshot";
import { containerLost, errorBackoff } from "../scheduler/status";
import { deleteContainerKills, listContainerKills } from "../store/container-kills";
import type { Lease } from "../store/lease";
import { applyFinishes, type FinishWrite, type TaskItem } from "../store/tasks";
import { CONTAINER_LAUNCHER_ID, type ContainerLauncher, type ContainerRoundDeps } from "./container-dispatch";
import { stateOfStatus } from "../scheduler/task-state";
import { endedAttempt, type EndedAttempt } from "./round-status-log";

/** ECS is asked about running container attempts at most this often per process. */
export const CONTAINER_CHECK_PERIOD_MS = 60_000;
/** A task stopped this long without its end ingested is ended by the round (ingest is seconds behind at most). */
export const STOPPED_END_GRACE_MS = 60_000;
/**
 * Past the job's maximum runtime (and its kill wait), the container stops its task itself; the
 * round stops the ECS task only this much later (container start, image pull, log flush).
 */
export const MAX_RUNTIME_MARGIN_MS = 5 * 60_000;
/** Prefix of the stop reason for a maximum runtime passed: a stopped task with it ends as that error. */
const MAX_RUNTIME_REASON = "ran past its maximum runtime";

/** What the round remembers between rounds in one process (a cold start simply checks sooner). */
interface Watch {
  checkedAtMs: number;
  /** Attempts stopped for their runtime, and when: asked again after a check period. */
  runtimeStops: Map<string, number>;
}
const watches = new WeakMap<ContainerLauncher, Watch>();

export interface UpkeepInput {
  lease: Lease;
  config: Config;
  /** The task items after this round's fail-overs. */
  items: readonly TaskItem[];
  /** The plan's kills of attempts on the launcher (orphans). */
  kills: readonly TaskKill[];
  /** Attempts of rounds after this one may not have been launched yet: they are not checked. */
  dispatchedThroughRound: number;
  /** How long after its start an attempt may be unknown to ECS (RunTask is eventually consistent). */
  graceMs: number;
}

export interface UpkeepResult {
  stopped: { attempt: string; reason: string }[];
  /** Attempts ended because their task stopped (or vanished) without their end. */
  lost: EndedAttempt[];
}

/** The status an attempt gets when its task stopped without its end (null: leave it for now). */
export function endOfStoppedTask(state: ContainerTaskState, nowMs: number): ReportedStatus | null {
  if (state.state === "running") return null;
  if (state.state === "unknown") {
    return containerLost("ECS knows no task for this attempt (it stopped over an hour ago, or never started)");
  }
  if (state.stoppedAtMs !== undefined && nowMs - state.stoppedAtMs < STOPPED_END_GRACE_MS) return null;
  const exit = state.exitCode === undefined ? "" : ` (exit code ${state.exitCode})`;
  if (state.stoppedReason.includes(MAX_RUNTIME_REASON)) {
    return errorBackoff(`Task stopped after exceeding its maximum runtime (ECS: ${state.stoppedReason})`);
  }
  return containerLost(`${state.stoppedReason}${exit}`);
}

/** Stops what must stop and ends what stopped unseen. Never throws for ECS's sake (logs instead). */
export async function containerUpkeep(deps: ContainerRoundDeps, input: UpkeepInput): Promise<UpkeepResult> {
  const result: UpkeepResult = { stopped: [], lost: [] };
  const running = input.items.filter((item) => item.running?.worker === CONTAINER_LAUNCHER_ID);
  if (running.length === 0 && input.kills.length === 0) return result;
  const nowMs = deps.clock();
  let watch = watches.get(deps.containers);
  if (!watch) watches.set(deps.containers, (watch = { checkedAtMs: 0, runtimeStops: new Map() }));
  const runningAttempts = new Set(running.map((item) => item.running?.attempt));

  // 1. Stops: orphan kills, the API's kill requests, maximum runtimes passed.
  const stops = new Map<string, string>();
  for (const kill of input.kills) stops.set(kill.attemptId, kill.reason);
  const requests = await listContainerKills(deps.store);
  for (const request of requests) {
    if (runningAttempts.has(request.attempt)) stops.set(request.attempt, request.reason);
  }
  for (const item of running) {
    const attempt = item.running;
    const job = input.config.jobs[item.job];
    if (!attempt || !job || job.attemptDurationSec === null || stops.has(attempt.attempt)) continue;
    const killWaitMs = job.killSubprocess.method === "term_wait_kill" ? job.killSubprocess.killWaitMs : 0;
    const overdueAtMs = attempt.startedAtMs + job.attemptDurationSec * 1000 + killWaitMs + MAX_RUNTIME_MARGIN_MS;
    const askedAtMs = watch.runtimeStops.get(attempt.attempt);
    if (nowMs < overdueAtMs || (askedAtMs !== undefined && nowMs - askedAtMs < CONTAINER_CHECK_PERIOD_MS)) continue;
    stops.set(attempt.attempt, `${MAX_RUNTIME_REASON} of ${job.attemptDurationSec} s`);
    watch.runtimeStops.set(attempt.attempt, nowMs);
  }
  for (const attempt of watch.runtimeStops.keys())
    if (!runningAttempts.has(attempt)) watch.runtimeStops.delete(attempt);
  if (stops.size > 0) {
    const asked: ContainerStop[] = [...stops].map(([attempt, reason]) => ({ attempt, reason }));
    const outcome = await deps.containers.stop(asked);
    if (outcome.failed.length > 0) deps.log?.({ event: "container-stop-failed", failed: outcome.failed });
    result.stopped = asked.filter((s) => outcome.stopped.includes(s.attempt));
    const failed = new Set(outcome.failed.map((f) => f.attempt));
    // A request is done once its task was stopped or is not running; failed ones are tried next round.
    const done = requests.map((r) => r.attempt).filter((a) => !failed.has(a));
    if (done.length > 0) await deleteContainerKills(deps.store, done);
  } else if (requests.length > 0) {
    await deleteContainerKills(
      deps.store,
      requests.map((r) => r.attempt),
    );
  }

  // 2. Attempts whose task stopped without their end: look at most once a check period.
  if (nowMs - watch.checkedAtMs < CONTAINER_CHECK_PERIOD_MS) return result;
  const candidates = running.flatMap((item) => {
    const attempt = item.running;
    const job = input.config.jobs[item.job];
    if (!attempt || attempt.round > input.dispatchedThroughRound) return [];
    if (nowMs - attempt.startedAtMs < input.graceMs) return [];
    // A job since deleted: its definition is unknown, so its task is found by the stopped lookup.
    return [{ item, attempt: attempt.attempt, taskDefinition: job?.container?.taskDefinition ?? "" }];
  });
  if (candidates.length === 0) return result;
  watch.checkedAtMs = nowMs;
  let states: Map<string, ContainerTaskState>;
  try {
    states = await deps.containers.check(candidates);
  } catch (error) {
    deps.log?.({ event: "container-check-failed", error: error instanceof Error ? error.message : String(error) });
    return result;
  }
  const finishes: FinishWrite[] = [];
  const ended = new Map<string, EndedAttempt>();
  for (const { item, attempt } of candidates) {
    const state = states.get(attempt);
    const reported = state ? endOfStoppedTask(state, nowMs) : null;
    const held = item.running;
    if (!reported || !held) continue;
    const status = finishTask({ previous: item.status, nextBackoff: held.nextBackoff, reported, nowSec: nowMs / 1000 });
    finishes.push({
      job: item.job,
      node: item.node,
      attempt,
      status,
      state: stateOfStatus(status),
      charges: held.charges,
      // Kept as the item's last token: the attempt's real end, if it still comes, replaces a lost mark.
      ...(held.tokenHash === undefined ? {} : { tokenHash: held.tokenHash }),
    });
    const lost = endedAttempt(item, reported);
    if (lost) ended.set(taskId(item.job, item.node), lost);
  }
  if (finishes.length === 0) return result;
  const { applied } = await applyFinishes(deps.store, finishes, input.lease);
  result.lost = applied.flatMap((f) => ended.get(taskId(f.job, f.node)) ?? []);
  deps.log?.({
    event: "container-tasks-lost",
    attempts: result.lost.map(({ job, node, attempt, reason }) => ({ job, node, attempt, reason })),
  });
  return result;
}
