// Two injected faults on the commit protocol. A status storm (the soak's injector: duplicates,
// stale ends of earlier attempts, shuffled) finishes each attempt once and releases each charge
// once. A lease holder stalled past its lease while another round took over is fenced: its starts
// and its own finishes change nothing, so no task gets two attempts and no counter is charged twice.
import { readCounters } from "../../lib/store/counters";
import { LeaseLostError } from "../../lib/store/errors";
import { acquireLease } from "../../lib/store/lease";
import { applyFinishes, readJobTasks } from "../../lib/store/tasks";
import { applyStatuses } from "../../lib/round/apply-statuses";
import { readAttemptTokens } from "../../lib/store/dispatch-key";
import { runRounds } from "../../lib/round/run-round";
import { finishTask } from "../../lib/scheduler/backoff";
import { unknownToWorker } from "../../lib/scheduler/status";
import { statusStorm } from "../helpers/faults";
import { roundHarness, seededRng } from "../helpers/round";

const NODES = ["h1", "h2", "h3", "h4"];
const config = {
  bistro_settings: {
    enabled: true,
    backoff: [1, "repeat"],
    nodes: {
      levels: ["host"],
      node_sources: [{ source: "manual", prefs: Object.fromEntries(NODES.map((n) => [n, []])) }],
    },
    resources: { host: { slots: { limit: 1, default: 1 } } },
  },
  "bistro_job->sync": { owner: "test" },
};

const usedSlots = async (h: Awaited<ReturnType<typeof roundHarness>>) => {
  const counters = await readCounters(h.store);
  return NODES.map((n) => counters.get(`node#${n}`)?.get("slots") ?? 0);
};

describe("a status storm", () => {
  it("finishes every attempt once, whatever the duplicates, stale ends and order", async () => {
    const h = await roundHarness();
    try {
      await h.setConfig(config);
      await h.addWorker("w1");
      const rng = seededRng(7);
      const endBody = async (attempts: { node: string; attempt: string }[], rawStatus: string) => {
        // The bodies the worker would send (each end carries its attempt's token).
        const body: string[] = [];
        const tokens = await readAttemptTokens(h.store);
        for (const a of attempts) {
          const end = { job: "sync", node: a.node, attempt: a.attempt, worker: "w1" };
          body.push(
            JSON.stringify({
              ends: [
                { ...end, token: tokens(end), killed: false, exitCode: 0, signal: null, endedAtMs: h.now(), rawStatus },
              ],
            }),
          );
        }
        return body;
      };
      // First attempts fail (error, backoff 1 s); their ends are delivered, then stormed again later.
      const first = await h.round();
      const failed = await endBody(first.started, "error");
      expect(
        (
          await applyStatuses(
            { store: h.store, clock: h.now },
            failed.map((body, i) => ({ id: `f${i}`, body })),
          )
        ).applied,
      ).toBe(4);
      h.advance(2000);
      const second = await h.round();
      expect(second.started).toHaveLength(4);
      const done = await endBody(second.started, "done");
      let applied = 0;
      for (let batch = 0; batch < 3; batch++) {
        const bodies = statusStorm(done, failed, rng);
        const result = await applyStatuses(
          { store: h.store, clock: h.now },
          bodies.map((body, i) => ({ id: `m${i}`, body })),
        );
        expect(result.failed).toEqual([]);
        applied += result.applied;
        expect((await usedSlots(h)).every((n) => n >= 0)).toBe(true);
      }
      expect(applied).toBe(4);
      expect(await usedSlots(h)).toEqual([0, 0, 0, 0]);
      const tasks = await readJobTasks(h.store, "sync");
      expect(tasks.map((t) => t.state)).toEqual(["done", "done", "done", "done"]);
      expect(new Set(tasks.map((t) => t.lastAttempt))).toEqual(new Set(second.started.map((s) => s.attempt)));
    } finally {
      h.destroy();
    }
  });
});

describe("a lease holder stalled past its lease", () => {
  it("commits nothing once another round took over, and ends nothing either", async () => {
    const h = await roundHarness();
    try {
      await h.setConfig(config);
      await h.addWorker("w1");
      h.deps.leaseTtlMs = 1000;
      const takeover = { ...h.deps, owner: "round-b" };
      let stalledOnce = false;
      const stalled = {
        ...h.deps,
        owner: "round-a",
        beforeCommit: async () => {
          if (stalledOnce) return;
          stalledOnce = true;
          h.advance(2000); // past round-a's lease: round-b takes over and commits first
          const reports = await runRounds(takeover, 1);
          expect(reports[0]?.started).toHaveLength(4);
        },
      };
      expect(await runRounds(stalled, 1)).toEqual([]); // fenced: LeaseLostError, no report
      const tasks = await readJobTasks(h.store, "sync");
      expect(tasks.map((t) => t.running?.attempt.split(".")[0])).toEqual(["r2", "r2", "r2", "r2"]);
      expect(await usedSlots(h)).toEqual([1, 1, 1, 1]);
      expect((await h.orders("w1")).map((o) => o.attempt.split(".")[0])).toEqual(["r2", "r2", "r2", "r2"]);

      // Its own finishes (lost workers, unknown attempts) are fenced too.
      const stale = (await acquireLease(h.store, "round-c", h.now() + 10_000, 1000))!;
      h.advance(20_000);
      await acquireLease(h.store, "round-d", h.now(), 1000);
      const running = tasks[0]!.running!;
      await expect(
        applyFinishes(
          h.store,
          [
            {
              job: "sync",
              node: tasks[0]!.node,
              attempt: running.attempt,
              status: finishTask({
                previous: undefined,
                nextBackoff: running.nextBackoff,
                reported: unknownToWorker("w1"),
                nowSec: h.now() / 1000,
              }),
              state: "error",
              charges: running.charges,
              ...(running.tokenHash ? { tokenHash: running.tokenHash } : {}),
            },
          ],
          stale,
        ),
      ).rejects.toThrow(LeaseLostError);
      expect((await readJobTasks(h.store, "sync"))[0]?.running?.attempt).toBe(running.attempt);
      expect(await usedSlots(h)).toEqual([1, 1, 1, 1]);
    } finally {
      h.destroy();
    }
  });
});
