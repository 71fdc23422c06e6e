// A stand-in for ECS behind the round's ContainerLauncher port: RunTask starts one task per
// attempt however often it is called (the clientToken is per attempt), StopTask stops it with its
// reason, and the check answers from the tasks it holds. Tests change task states directly.
import type { ContainerTaskState } from "../../lib/dispatch/ecs-tasks";
import type { StartMessage } from "../../lib/dispatch/messages";
import type { ContainerLaunch } from "../../lib/dispatch/run-task";
import type { ContainerLauncher } from "../../lib/round/container-dispatch";

export interface FakeEcsTask {
  attempt: string;
  launches: ContainerLaunch[];
  state: ContainerTaskState;
}

export function fakeEcs(clock: () => number = Date.now) {
  const tasks = new Map<string, FakeEcsTask>();
  const stops: { attempt: string; reason: string }[] = [];
  const checks: string[][] = [];
  const launcher: ContainerLauncher & { tasks: typeof tasks; stops: typeof stops; checks: typeof checks } = {
    tasks,
    stops,
    checks,
    launch(launches) {
      for (const launch of launches) {
        const known = tasks.get(launch.order.attempt);
        if (known) known.launches.push(launch);
        else
          tasks.set(launch.order.attempt, {
            attempt: launch.order.attempt,
            launches: [launch],
            state: { state: "running" },
          });
      }
      return Promise.resolve({
        launched: launches.map((l) => ({ attempt: l.order.attempt, taskArn: `arn:task/${l.order.attempt}` })),
        failed: [],
      });
    },
    stop(asked) {
      const result = { stopped: [] as string[], notRunning: [] as string[], failed: [] };
      for (const { attempt, reason } of asked) {
        stops.push({ attempt, reason });
        const task = tasks.get(attempt);
        if (task?.state.state !== "running") {
          result.notRunning.push(attempt);
          continue;
        }
        task.state = { state: "stopped", stoppedReason: `Sous: ${reason}`, stoppedAtMs: clock() };
        result.stopped.push(attempt);
      }
      return Promise.resolve(result);
    },
    check(attempts) {
      checks.push(attempts.map((a) => a.attempt));
      return Promise.resolve(
        new Map(attempts.map((a) => [a.attempt, tasks.get(a.attempt)?.state ?? { state: "unknown" as const }])),
      );
    },
  };
  return launcher;
}

/** A container start order for attempt `attempt` of job `j` (unit tests of the ECS calls). */
export function containerStartOrder(attempt: string, taskJson: Record<string, unknown> = { id: "j" }): StartMessage {
  return {
    type: "start",
    job: "j",
    node: `n-${attempt}`,
    attempt,
    token: `token-${attempt}-0123456789abcdef`,
    workerInstance: "ecs",
    command: [],
    taskJson,
    killRequest: { method: "term", killWaitMs: 0 },
    pollMs: 10,
    maxLogLinesPerPollInterval: 50,
  };
}
