// The round's side of container jobs: the RunTask launcher appears to the planner as one more
// worker (always healthy, room for anything, taking only container jobs), and the starts planned
// on it are launched with ECS RunTask (lib/dispatch/run-task.ts) instead of sent to a worker
// queue. A start that could not be launched ends at once as an error with backoff, so its
// resources are released and it is retried like any failed task.
import type { CheckedAttempt, ContainerStop, ContainerTaskState, StopResult } from "../dispatch/ecs-tasks";
import type { ContainerLaunch, LaunchResult } from "../dispatch/run-task";
import { WORKER_LEVEL, type ResourceAmounts, type Settings } from "../model/config";
import { finishTask } from "../scheduler/backoff";
import type { WorkerSnapshot } from "../scheduler/snapshot";
import { errorBackoff } from "../scheduler/status";
import type { StoreContext } from "../store/context";
import type { BackoffStep } from "../model/status";
import { applyFinishes, type CounterCharge } from "../store/tasks";
import { stateOfStatus } from "../scheduler/task-state";

/** The launcher's worker id (and instance and host): what container tasks record as their worker. */
export const CONTAINER_LAUNCHER_ID = "sous-ecs-run-task";

/** The round's port to ECS (lib/dispatch/run-task.ts, lib/dispatch/ecs-tasks.ts; fakes in tests). */
export interface ContainerLauncher {
  /** RunTask per start; never throws. */
  launch(launches: readonly ContainerLaunch[]): Promise<LaunchResult>;
  /** StopTask per attempt with the reason; never throws. */
  stop(stops: readonly ContainerStop[]): Promise<StopResult>;
  /** What ECS says of these attempts' tasks (attempts it could not look up this time are left out). */
  check(attempts: readonly CheckedAttempt[]): Promise<Map<string, ContainerTaskState>>;
}

/** What ending a start that could not be launched needs of its running item. */
export interface LaunchedStart extends ContainerLaunch {
  charges: readonly CounterCharge[];
  nextBackoff: BackoffStep;
  /** The running item's token hash (finishes are conditional on it). */
  tokenHash?: string;
}

/** What the round's container steps (launches, upkeep) need of the round. */
export interface ContainerRoundDeps {
  store: StoreContext;
  containers: ContainerLauncher;
  clock: () => number;
  log?: (e: Record<string, unknown>) => void;
}

/** The launcher as the planner sees it: room for any amount of every worker-level resource. */
export function launcherSnapshot(settings: Settings): WorkerSnapshot {
  const capacity: ResourceAmounts = {};
  for (const name of Object.keys(settings.resources[WORKER_LEVEL] ?? {})) capacity[name] = Number.MAX_SAFE_INTEGER;
  return {
    id: CONTAINER_LAUNCHER_ID,
    hostname: CONTAINER_LAUNCHER_ID,
    state: "healthy",
    capacity,
    containerLauncher: true,
  };
}

/** Launches the committed container starts; ends the ones RunTask did not take. Returns how many failed. */
export async function launchContainerStarts(
  deps: ContainerRoundDeps,
  launches: readonly LaunchedStart[],
): Promise<number> {
  if (launches.length === 0) return 0;
  const result = await deps.containers.launch(launches);
  if (result.failed.length === 0) return 0;
  deps.log?.({ event: "container-launch-failed", failed: result.failed });
  const byAttempt = new Map(launches.map((launch) => [launch.order.attempt, launch]));
  const nowSec = deps.clock() / 1000;
  const finishes = result.failed.flatMap(({ attempt, reason }) => {
    const launch = byAttempt.get(attempt);
    if (!launch) return [];
    const status = finishTask({
      previous: undefined,
      nextBackoff: launch.nextBackoff,
      reported: errorBackoff(`Container task not started: ${reason}`),
      nowSec,
    });
    return [
      {
        job: launch.order.job,
        node: launch.order.node,
        attempt,
        status,
        state: stateOfStatus(status),
        charges: launch.charges.map(({ level, name, resource, amount }) => ({ level, name, resource, amount })),
        ...(launch.tokenHash === undefined ? {} : { tokenHash: launch.tokenHash }),
      },
    ];
  });
  await applyFinishes(deps.store, finishes);
  return result.failed.length;
}
