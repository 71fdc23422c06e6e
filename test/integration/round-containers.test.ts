// Container jobs in a real round (DynamoDB Local + fauxqs): their starts go to the RunTask
// launcher, never to a worker queue, while other jobs stay on workers; a start RunTask refuses
// ends as an error with backoff and frees its resources; the end of a launched one is ingested
// like any worker's.
import type { ContainerLaunch, LaunchResult } from "../../lib/dispatch/run-task";
import { CONTAINER_LAUNCHER_ID } from "../../lib/round/container-dispatch";
import { readCounters } from "../../lib/store/counters";
import { readJobTasks } from "../../lib/store/tasks";
import { roundHarness } from "../helpers/round";
import { fakeEcs } from "../helpers/fake-ecs";

const config = {
  bistro_settings: {
    enabled: true,
    nodes: { levels: ["shard"], node_sources: [{ source: "manual", prefs: { a: [], b: [] } }] },
    resources: { instance: { slots: { limit: 10, default: 1 } } },
  },
  "bistro_job->render": { owner: "t", container: { task_definition: "render", cpu: 1024 } },
  "bistro_job->plain": { owner: "t" },
};

describe("a round with container jobs", () => {
  it("launches container tasks with RunTask, keeps other jobs on workers, and ends refused launches", async () => {
    const h = await roundHarness();
    const launched: ContainerLaunch[] = [];
    let refuse = new Set<string>();
    h.deps.containers = {
      ...fakeEcs(),
      launch(launches): Promise<LaunchResult> {
        launched.push(...launches);
        const failed = launches
          .filter((l) => refuse.has(l.order.node))
          .map((l) => ({ attempt: l.order.attempt, reason: "RESOURCE:ENI" }));
        const launchedOk = launches
          .filter((l) => !refuse.has(l.order.node))
          .map((l) => ({ attempt: l.order.attempt, taskArn: `arn:task/${l.order.attempt}` }));
        return Promise.resolve({ launched: launchedOk, failed });
      },
    };
    try {
      await h.setConfig(config);
      await h.addWorker("w1");
      refuse = new Set(["b"]);
      const report = await h.round();
      expect(report.started.filter((s) => s.job === "render").map((s) => s.worker)).toEqual([
        CONTAINER_LAUNCHER_ID,
        CONTAINER_LAUNCHER_ID,
      ]);
      expect(report.started.filter((s) => s.job === "plain").map((s) => s.worker)).toEqual(["w1", "w1"]);
      expect(launched.map((l) => [l.order.job, l.order.taskJson.worker_node]).sort()).toEqual([
        ["render", CONTAINER_LAUNCHER_ID],
        ["render", CONTAINER_LAUNCHER_ID],
      ]);
      // Only the plain job's orders reach the worker's queue.
      expect((await h.orders("w1")).map((o) => o.job)).toEqual(["plain", "plain"]);

      const render = await readJobTasks(h.store, "render");
      const refused = render.find((t) => t.node === "b");
      expect(refused).toMatchObject({ state: "backoff" });
      expect(JSON.stringify(refused?.status?.data)).toContain("Container task not started: RESOURCE:ENI");
      expect(render.find((t) => t.node === "a")?.running?.worker).toBe(CONTAINER_LAUNCHER_ID);
      // 3 running (2 plain, 1 container): the refused start released its slot.
      const counters = await readCounters(h.store);
      expect(counters.get("node#scheduler")?.get("slots")).toBe(3);

      const attempt = render.find((t) => t.node === "a")!.running!.attempt;
      await h.finish([{ job: "render", node: "a", attempt, rawStatus: "done" }]);
      expect((await readJobTasks(h.store, "render")).find((t) => t.node === "a")).toMatchObject({ state: "done" });
    } finally {
      h.destroy();
    }
  });

  it("without a launcher, container jobs do not run and say why", async () => {
    const h = await roundHarness();
    try {
      await h.setConfig(config);
      await h.addWorker("w1");
      const report = await h.round();
      expect(report.started.every((s) => s.job === "plain")).toBe(true);
      expect(report.reasons).toContainEqual({
        job: "render",
        message: "Job render runs in containers, and this deployment has none",
      });
    } finally {
      h.destroy();
    }
  });
});
