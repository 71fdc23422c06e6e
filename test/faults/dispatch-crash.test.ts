// A round that crashes between its commit and its dispatch: the starts are committed (resources
// charged, tasks running) but no order went out. The next round re-sends the same attempts (never a
// second attempt, never a second charge), or fails them over if their worker was lost meanwhile.
import { sendBatched } from "../../lib/dispatch/sqs";
import { readCounters } from "../../lib/store/counters";
import { readJobTasks } from "../../lib/store/tasks";
import { crashBetweenCommitAndDispatch, InjectedCrash } from "../helpers/faults";
import { roundHarness } from "../helpers/round";

const config = {
  bistro_settings: {
    enabled: true,
    backoff: [10, "repeat"],
    nodes: { levels: ["host"], node_sources: [{ source: "manual", prefs: { h1: [], h2: [] } }] },
    resources: { host: { slots: { limit: 1, default: 1 } } },
  },
  "bistro_job->sync": { owner: "test" },
};

async function crashedRound() {
  const h = await roundHarness();
  await h.setConfig(config);
  await h.addWorker("w1");
  h.deps.send = crashBetweenCommitAndDispatch(
    (url, bodies) => sendBatched(h.store.aws.sqs, url, bodies),
    () => true,
  );
  await expect(h.round()).rejects.toThrow(InjectedCrash);
  delete h.deps.send;
  const committed = await readJobTasks(h.store, "sync");
  expect(committed.map((t) => t.state)).toEqual(["running", "running"]);
  expect(await h.orders("w1")).toEqual([]);
  return { h, attempts: committed.map((t) => t.running!.attempt).sort() };
}

const slots = async (h: Awaited<ReturnType<typeof roundHarness>>) => {
  const counters = await readCounters(h.store);
  return ["h1", "h2"].map((node) => counters.get(`node#${node}`)?.get("slots") ?? 0);
};

describe("a round crash between commit and dispatch", () => {
  it("is repaired by the next round re-sending the committed attempts, once", async () => {
    const { h, attempts } = await crashedRound();
    try {
      const next = await h.round();
      expect(next).toMatchObject({ resent: 2, started: [] });
      const orders = await h.orders("w1");
      expect(orders.map((o) => o.attempt).sort()).toEqual(attempts);
      // Charged once per task, whatever the re-sends; a third round has nothing left to send.
      expect(await slots(h)).toEqual([1, 1]);
      expect(await h.round()).toMatchObject({ resent: 0, started: [] });
      expect(await h.orders("w1")).toEqual([]);

      const ends = await h.finish(
        (await readJobTasks(h.store, "sync")).map((t) => ({
          job: "sync",
          node: t.node,
          attempt: t.running!.attempt,
          rawStatus: "done",
        })),
      );
      expect(ends.applied).toBe(2);
      expect(await slots(h)).toEqual([0, 0]);
      expect((await readJobTasks(h.store, "sync")).map((t) => t.state)).toEqual(["done", "done"]);
    } finally {
      h.destroy();
    }
  });

  it("fails the committed attempts over, without sending them, when their worker is lost meanwhile", async () => {
    const { h, attempts } = await crashedRound();
    try {
      await h.addWorker("w2");
      h.advance(600_000); // past the lost-worker deadline (15 + 60 + 500 s) for a silent w1
      await h.heartbeat("w1");
      const lost = await h.round();
      expect(lost).toMatchObject({ lostWorkers: ["w1"], resent: 0, started: [] });
      expect(await h.orders("w1")).toEqual([]);
      expect(await slots(h)).toEqual([0, 0]);
      h.advance(70_000); // past the safety backoff
      await h.heartbeat("w1");
      const retry = await h.round();
      expect(retry.started.map((s) => s.worker)).toEqual(["w2", "w2"]);
      expect(retry.started.map((s) => s.attempt).filter((a) => attempts.includes(a))).toEqual([]);
      expect(await slots(h)).toEqual([1, 1]);
    } finally {
      h.destroy();
    }
  });
});
