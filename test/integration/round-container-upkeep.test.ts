// Container tasks after RunTask, in real rounds (DynamoDB Local + fauxqs) against a fake ECS:
// kills through the API and orphan kills become StopTask with the reason; a task past its
// maximum runtime is stopped and ends as an error with backoff; a task that stopped without its
// end (out of memory) is ended with ECS's reason and its resources freed; a round that crashed
// between commit and RunTask is followed by one that launches the same RunTask again (same
// token: ECS starts no second task).
import { killTask } from "../../lib/api/tasks";
import type { ApiDeps } from "../../lib/api/deps";
import { CONTAINER_LAUNCHER_ID } from "../../lib/round/container-dispatch";
import {
  CONTAINER_CHECK_PERIOD_MS,
  MAX_RUNTIME_MARGIN_MS,
  STOPPED_END_GRACE_MS,
} from "../../lib/round/container-upkeep";
import { listContainerKills } from "../../lib/store/container-kills";
import { readCounters } from "../../lib/store/counters";
import { getConfig, getCurrentConfigVersion } from "../../lib/store/config-store";
import { readJobTasks } from "../../lib/store/tasks";
import { parseConfig } from "../../lib/config";
import { fakeEcs } from "../helpers/fake-ecs";
import { roundHarness } from "../helpers/round";

const settings = {
  enabled: true,
  nodes: { levels: ["shard"], node_sources: [{ source: "manual", prefs: { a: [] } }] },
  resources: { instance: { slots: { limit: 10, default: 1 } } },
  kill_orphan_tasks_after_sec: 0,
};
const render = { owner: "t", container: { task_definition: "render" } };

async function started(overrides: Record<string, unknown> = {}) {
  const h = await roundHarness();
  const ecs = fakeEcs(h.now);
  h.deps.containers = ecs;
  await h.setConfig({ bistro_settings: settings, "bistro_job->render": { ...render, ...overrides } });
  const report = await h.round();
  expect(report.started).toEqual([expect.objectContaining({ job: "render", worker: CONTAINER_LAUNCHER_ID })]);
  const attempt = report.started[0]!.attempt;
  const task = async () => (await readJobTasks(h.store, "render"))[0]!;
  const slots = async () => (await readCounters(h.store)).get("node#scheduler")?.get("slots") ?? 0;
  return { h, ecs, attempt, task, slots };
}

describe("container tasks after RunTask", () => {
  it("a kill through the API becomes StopTask with its reason; the killed end is recorded like a worker's", async () => {
    const { h, ecs, attempt, task } = await started();
    try {
      const current = await getConfig(h.store, (await getCurrentConfigVersion(h.store))!);
      const parsed = parseConfig(current!.document);
      if (!parsed.ok) throw new Error("bad config");
      let pokes = 0;
      const api = {
        store: h.store,
        sqs: h.store.aws.sqs,
        clock: h.now,
        instanceName: "scheduler",
        poke: () => {
          pokes++;
          return Promise.resolve();
        },
        workerQueuePrefix: "w",
        statusQueueUrl: "",
      } satisfies ApiDeps;
      const answer = await killTask(api, parsed.config, "render", "a");
      expect(answer).toMatchObject({ attempt, worker: CONTAINER_LAUNCHER_ID });
      expect(pokes).toBe(1);
      expect(await listContainerKills(h.store)).toHaveLength(1);

      const report = await h.round(); // not idle: the request bumped the change sequence
      expect(report.idle).toBeUndefined();
      expect(ecs.stops).toEqual([{ attempt, reason: "killed through the API" }]);
      expect(await listContainerKills(h.store)).toEqual([]);
      // The container got SIGTERM, killed its task and reported it killed.
      await h.finish([{ job: "render", node: "a", attempt, killed: true }]);
      const ended = await task();
      expect(ended.state).toBe("backoff");
      expect(JSON.stringify(ended.status?.data)).toContain("Task killed, no status returned");
    } finally {
      h.destroy();
    }
  });

  it("an orphan's kill stops its ECS task", async () => {
    const { h, ecs, attempt } = await started();
    try {
      await h.setConfig({ bistro_settings: settings }); // the job is deleted
      const report = await h.round();
      expect(report.killed).toBe(1);
      expect(ecs.stops).toEqual([{ attempt, reason: "Orphan: job render was deleted" }]);
    } finally {
      h.destroy();
    }
  });

  it("a task that stopped without its end is ended with ECS's reason, its resources freed; a late end replaces it", async () => {
    const { h, ecs, attempt, task, slots } = await started();
    try {
      h.advance(10_000);
      await h.round(); // too young to be looked at
      expect(ecs.checks).toEqual([]);
      h.advance(80_000);
      await h.round();
      expect(ecs.checks).toEqual([[attempt]]); // running: nothing happens
      expect((await task()).state).toBe("running");

      h.advance(CONTAINER_CHECK_PERIOD_MS);
      ecs.tasks.get(attempt)!.state = {
        state: "stopped",
        stoppedReason: "OutOfMemoryError: Container killed due to memory usage",
        stoppedAtMs: h.now() - 1000,
        exitCode: 137,
      };
      const within = await h.round(); // stopped, but its end may still be on its way
      expect(within.idle).toBeUndefined();
      expect((await task()).state).toBe("running");
      h.advance(Math.max(STOPPED_END_GRACE_MS, CONTAINER_CHECK_PERIOD_MS));
      await h.round();
      const ended = await task();
      expect(ended.running).toBeUndefined();
      expect(ended.state).toBe("backoff");
      expect(JSON.stringify(ended.status?.data)).toContain(
        "Container task stopped without reporting its end: OutOfMemoryError: Container killed due to memory usage (exit code 137)",
      );
      expect(await slots()).toBe(0);

      // Its real end, arriving late, replaces the lost mark.
      await h.finish([{ job: "render", node: "a", attempt, worker: CONTAINER_LAUNCHER_ID, rawStatus: "done" }]);
      expect((await task()).state).toBe("done");
    } finally {
      h.destroy();
    }
  });

  it("a task past its maximum runtime is stopped, then ends as an error with backoff", async () => {
    const { h, ecs, attempt, task } = await started({ attempt_duration_seconds: 60 });
    try {
      h.advance(60_000 + MAX_RUNTIME_MARGIN_MS - 1000);
      await h.round();
      expect(ecs.stops).toEqual([]);
      // Rounds with container tasks running wake at least once a check period.
      h.advance(CONTAINER_CHECK_PERIOD_MS);
      await h.round();
      expect(ecs.stops).toEqual([{ attempt, reason: "ran past its maximum runtime of 60 s" }]);
      h.advance(Math.max(STOPPED_END_GRACE_MS, CONTAINER_CHECK_PERIOD_MS) + 1000);
      await h.round();
      const ended = await task();
      expect(ended.state).toBe("backoff");
      expect(JSON.stringify(ended.status?.data)).toContain("exceeding its maximum runtime");
    } finally {
      h.destroy();
    }
  });

  it("a round that crashed between commit and RunTask: the next launches the same RunTask, and one task runs", async () => {
    const h = await roundHarness();
    const ecs = fakeEcs(h.now);
    let crash = true;
    // ECS started the task, then the round died before it recorded the dispatch.
    h.deps.containers = {
      ...ecs,
      launch: async (launches) => {
        await ecs.launch(launches);
        if (crash) throw new Error("round crashed");
        return { launched: [], failed: [] };
      },
    };
    try {
      await h.setConfig({ bistro_settings: settings, "bistro_job->render": render });
      await expect(h.round()).rejects.toThrow("round crashed");
      crash = false;
      const report = await h.round();
      expect(report.resent).toBe(1);
      expect(report.started).toEqual([]);
      expect(ecs.tasks.size).toBe(1);
      const [task] = [...ecs.tasks.values()];
      expect(task!.launches).toHaveLength(2);
      // The same order, so the same RunTask request and token: ECS answers with the first task.
      expect(JSON.stringify(task!.launches[1]!.order)).toBe(JSON.stringify(task!.launches[0]!.order));
      expect((await h.round()).resent).toBe(0);
    } finally {
      h.destroy();
    }
  });
});
