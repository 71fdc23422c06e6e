// The scheduling round on DynamoDB Local + fauxqs: commit, dispatch, statuses, fencing, crashes.
import type { StartMessage } from "../../lib/dispatch/messages";
import { LeaseLostError } from "../../lib/store/errors";
import { JOB_MARKER_PK } from "../../lib/store/keys";
import { acquireLease } from "../../lib/store/lease";
import { readCounters, repairCounters } from "../../lib/store/counters";
import { readJobTasks } from "../../lib/store/tasks";
import { requestRound } from "../../lib/round/poke";
import { runRound, runRounds, type RoundReport } from "../../lib/round/run-round";
import { bistroFixture, roundHarness } from "../helpers/round";

type Harness = Awaited<ReturnType<typeof roundHarness>>;
let h: Harness;
beforeEach(async () => {
  h = await roundHarness();
});
afterEach(() => {
  h.destroy();
});

describe("a round with Bistro's simple config", () => {
  it("starts 3 of the 4 tasks (instance concurrency 3), sends start orders, and the 4th after a status", async () => {
    await h.setConfig(bistroFixture("simple.json"));
    await h.addWorker("w1");
    const first = await h.round();
    expect(first.started).toHaveLength(3);
    const orders = (await h.orders("w1")) as StartMessage[];
    expect(orders.map((o) => o.node).sort()).toEqual(first.started.map((s) => s.node).sort());
    expect(orders[0]).toMatchObject({
      type: "start",
      job: "simple_job",
      command: [],
      taskJson: { id: "simple_job", config: {}, worker_node: "w1", worker_host: "w1" },
    });
    expect(orders[0]?.taskJson.path_to_node).toHaveLength(3);
    expect((await readCounters(h.store)).get("node#scheduler")?.get("concurrency")).toBe(3);

    expect((await h.round()).started).toHaveLength(0); // no room, nothing re-sent

    const done = orders[0]!;
    const result = await h.finish([{ job: done.job, node: done.node, attempt: done.attempt, rawStatus: "done" }]);
    expect(result).toEqual({ failed: [], applied: 1, ignored: 0, refused: 0 });
    const again = await h.finish([{ job: done.job, node: done.node, attempt: done.attempt, rawStatus: "done" }]);
    expect(again.applied).toBe(0);

    const second = await h.round();
    expect(second.started).toHaveLength(1);
    const tasks = await readJobTasks(h.store, "simple_job");
    expect(tasks.filter((t) => t.state === "running")).toHaveLength(3);
    expect(tasks.filter((t) => t.state === "done").map((t) => t.node)).toEqual([done.node]);
  });

  it("says why nothing runs when settings are disabled or no worker is registered", async () => {
    const config = bistroFixture("simple.json");
    await h.setConfig({ ...config, bistro_settings: { ...(config.bistro_settings as object), enabled: false } });
    await h.addWorker("w1");
    const report = await h.round();
    expect(report.started).toEqual([]);
    expect(report.reasons.map((r) => r.message).join("\n")).toMatch(/enabled/);
  });
});

describe("fencing", () => {
  it("a round whose lease was taken over between plan and commit commits nothing", async () => {
    await h.setConfig(bistroFixture("simple.json"));
    await h.addWorker("w1");
    const lease = (await acquireLease(h.store, "slow-round", h.now(), 1_000))!;
    let resume!: () => void;
    let paused!: () => void;
    const pausedAtCommit = new Promise<void>((r) => (paused = r));
    const slow = runRound(
      {
        ...h.deps,
        owner: "slow-round",
        beforeCommit: async () => {
          paused();
          await new Promise<void>((r) => (resume = r));
        },
      },
      lease,
    );
    await pausedAtCommit;
    h.advance(5_000); // the slow round's lease has expired
    const fast = await h.round();
    expect(fast.started).toHaveLength(3);
    resume();
    await expect(slow).rejects.toBeInstanceOf(LeaseLostError);
    expect((await readJobTasks(h.store, "simple_job")).filter((t) => t.state === "running")).toHaveLength(3);
    expect((await readCounters(h.store)).get("node#scheduler")?.get("concurrency")).toBe(3);
    expect(await h.orders("w1")).toHaveLength(3);
  });
});

describe("a crash between commit and dispatch", () => {
  it("is repaired by the next round, which re-sends each start exactly once with the same attempt", async () => {
    await h.setConfig(bistroFixture("simple.json"));
    await h.addWorker("w1");
    const crashing = { ...h.deps, send: () => Promise.reject(new Error("process died")) };
    const lease = (await acquireLease(h.store, "crashing", h.now(), 1_000))!;
    await expect(runRound(crashing, lease)).rejects.toThrow("process died");
    expect(await h.orders("w1")).toEqual([]);
    const committed = (await readJobTasks(h.store, "simple_job")).filter((t) => t.state === "running");
    expect(committed).toHaveLength(3);

    h.advance(5_000);
    const repair = await h.round();
    expect(repair.resent).toBe(3);
    expect(repair.started).toEqual([]);
    const orders = (await h.orders("w1")) as StartMessage[];
    expect(orders.map((o) => o.attempt).sort()).toEqual(committed.map((t) => t.running!.attempt).sort());

    const after = await h.round();
    expect(after.resent).toBe(0);
    expect(await h.orders("w1")).toEqual([]);
  });
});

describe("lost workers", () => {
  const MUST_DIE_MS = (15 + 60 + 500) * 1000; // heartbeat period + grace + lose_unhealthy_worker_after

  it("keep their tasks until the lost-worker deadline; then the tasks wait out the safety backoff and run elsewhere", async () => {
    await h.setConfig(bistroFixture("simple.json"));
    await h.addWorker("w1");
    const first = await h.round();
    expect(first.started.map((s) => s.worker)).toEqual(["w1", "w1", "w1"]);
    await h.addWorker("w2");

    h.advance(MUST_DIE_MS - 1000); // w1 silent, but not yet past its deadline
    await h.heartbeat("w1");
    const before = await h.round();
    expect(before.lostWorkers).toEqual([]);
    expect((await readJobTasks(h.store, "simple_job")).filter((t) => t.running?.worker === "w1")).toHaveLength(3);

    h.advance(2000);
    await h.heartbeat("w1");
    const after = await h.round();
    expect(after.lostWorkers).toEqual(["w1"]);
    // The 4th task (never started) may run on w2 now; the lost ones back off first.
    expect(after.started.every((s) => !first.started.some((f) => f.node === s.node))).toBe(true);
    const lost = (await readJobTasks(h.store, "simple_job")).filter((t) =>
      first.started.some((f) => f.node === t.node),
    );
    expect(lost.map((t) => [t.state, t.status?.bits, t.status?.backoffSec])).toEqual([
      ["backoff", 3168, 66],
      ["backoff", 3168, 66],
      ["backoff", 3168, 66],
    ]);

    h.advance(60_000);
    await h.heartbeat("w1");
    expect((await h.round()).started).toEqual([]); // still inside the 66 s safety backoff
    h.advance(7_000);
    await h.heartbeat("w1");
    const retry = await h.round();
    expect(retry.started.map((s) => s.worker)).toEqual(["w2", "w2"]); // w2 holds the 4th task: 3 in all
  });

  it("take a real status that arrives after the worker-lost placeholder (Bistro's update rules)", async () => {
    await h.setConfig(bistroFixture("simple.json"));
    await h.addWorker("w1");
    const [first] = (await h.round()).started;
    h.advance(MUST_DIE_MS + 1000);
    expect((await h.round()).lostWorkers).toEqual(["w1"]);
    const late = await h.finish([{ job: first!.job, node: first!.node, attempt: first!.attempt, rawStatus: "done" }]);
    expect(late.applied).toBe(1);
    const task = (await readJobTasks(h.store, "simple_job")).find((t) => t.node === first!.node);
    expect(task).toMatchObject({ state: "done", status: { bits: 4 } });
    const again = await h.finish([{ job: first!.job, node: first!.node, attempt: first!.attempt, rawStatus: "done" }]);
    expect(again).toMatchObject({ applied: 0, ignored: 1 });
  });

  it("fail over the tasks of an instance replaced by a re-registration, and refuse no orders to the new one", async () => {
    await h.setConfig(bistroFixture("simple.json"));
    await h.addWorker("w1");
    const first = await h.round();
    await h.orders("w1");
    h.advance(MUST_DIE_MS + 1000);
    const replaced = await h.addWorker("w1", {}, "w1", 2);
    expect(replaced?.instanceId).toBe("w1-1");
    const after = await h.round();
    const tasks = await readJobTasks(h.store, "simple_job");
    expect(tasks.filter((t) => first.started.some((f) => f.node === t.node)).map((t) => t.state)).toEqual([
      "backoff",
      "backoff",
      "backoff",
    ]);
    const orders = (await h.orders("w1")) as StartMessage[];
    expect(orders.map((o) => o.workerInstance)).toEqual(after.started.map(() => "w1-2"));
  });
});

describe("pokes", () => {
  it("under steady pokes, stops at the round limit, frees the lease, and asks for the wanted round again", async () => {
    await h.setConfig(bistroFixture("simple.json"));
    await h.addWorker("w1");
    let retriggered = 0;
    const reports = await runRounds(
      { ...h.deps, beforeCommit: () => requestRound(h.store, () => Promise.resolve()) },
      2,
      {
        retrigger: () => {
          retriggered++;
          return Promise.resolve();
        },
      },
    );
    expect(reports).toHaveLength(2);
    expect(retriggered).toBe(1);
    expect(await acquireLease(h.store, "next", h.now(), 1000)).not.toBeNull();
  });

  it("a burst of pokes during a round costs one more round, and none is lost", async () => {
    await h.setConfig(bistroFixture("simple.json"));
    await h.addWorker("w1");
    const triggered: Promise<unknown>[] = [];
    // Each poke marks a round wanted, then tries to start one (which finds the lease held).
    const trigger = () => {
      triggered.push(runRounds({ ...h.deps, owner: `poked-${triggered.length}` }));
      return Promise.resolve();
    };
    let pokes = 0;
    const reports = await runRounds({
      ...h.deps,
      beforeCommit: async () => {
        if (pokes > 0) return;
        for (; pokes < 10; pokes++) await requestRound(h.store, trigger);
      },
    });
    const others = await Promise.all(triggered);
    expect(others.flat()).toEqual([]); // the holder ran the wanted round itself
    expect(reports).toHaveLength(2);

    // A poke after the holder let go starts a round of its own, when something changed (a poke
    // that changes nothing finds the round idle: ADR 0003).
    await h.addWorker("w2");
    await requestRound(h.store, trigger);
    const after = (await Promise.all(triggered)).flat();
    expect(after).toHaveLength(1);
  });
});

type Started = RoundReport["started"][number];

describe("a deleted job", () => {
  it("keeps its running tasks charged, drops the rest from the round's state, and gets its statuses back when re-added", async () => {
    const config = bistroFixture("simple.json");
    const { "bistro_job->simple_job": _job, ...withoutJob } = config;
    await h.setConfig(config);
    await h.addWorker("w1");
    const first = await h.round();
    expect(first.started).toHaveLength(3);
    const [a, b, c] = first.started as [Started, Started, Started];
    await h.finish([a, b].map(({ job, node, attempt }) => ({ job, node, attempt, rawStatus: "done" })));

    await h.setConfig(withoutJob);
    const afterDelete = await h.round();
    expect(afterDelete.started).toEqual([]);
    expect(afterDelete.repairedCounters).toBe(0);
    const cache = h.deps.taskCache!;
    expect([...cache.retired]).toEqual(["simple_job"]);
    // Only the running task is held; the done ones stay stored.
    expect([...cache.items.values()].map((t) => [t.node, t.state])).toEqual([[c.node, "running"]]);
    expect(cache.done.size).toBe(0);
    expect((await readCounters(h.store)).get("node#scheduler")?.get("concurrency")).toBe(1);
    expect((await readJobTasks(h.store, "simple_job")).filter((t) => t.state === "done")).toHaveLength(2);

    // Its last task ends: applied, released, and no longer held.
    expect((await h.finish([{ job: c.job, node: c.node, attempt: c.attempt, rawStatus: "done" }])).applied).toBe(1);
    await h.round();
    expect(h.deps.taskCache!.items.size).toBe(0);
    expect((await readCounters(h.store)).get("node#scheduler")?.get("concurrency")).toBe(0);

    // Configured again: its done tasks are read back, so only the task that never ran starts.
    await h.setConfig(config);
    const readded = await h.round();
    expect(readded.refused).toBe(0);
    const never = ["node11", "node12", "node21", "node22"].filter((n) => ![a, b, c].some((s) => s.node === n));
    expect(readded.started.map((s) => s.node)).toEqual(never);
    expect([...h.deps.taskCache!.retired]).toEqual([]);
    expect(h.deps.taskCache!.done.size).toBe(3);
  });

  it("makes warm rounds skip the list of jobs with items, which grows with every job ever started", async () => {
    await h.setConfig(bistroFixture("simple.json"));
    await h.addWorker("w1");
    const queried: unknown[] = [];
    h.store.doc.middlewareStack.add(
      (next) => async (args) => {
        const input = args.input as { ExpressionAttributeValues?: Record<string, unknown> };
        queried.push(input.ExpressionAttributeValues?.[":pk"]);
        return next(args);
      },
      { step: "initialize", name: "recordQueriedPartitions" },
    );
    const [started] = (await h.round()).started;
    expect(queried).toContain(JOB_MARKER_PK); // the first round reads every item
    queried.length = 0;
    await h.finish([{ job: started!.job, node: started!.node, attempt: started!.attempt, rawStatus: "done" }]);
    expect((await h.round()).started).toHaveLength(1);
    expect(queried).not.toContain(JOB_MARKER_PK);
    delete h.deps.taskCache; // a cold process without a checkpoint
    h.advance(1);
    await h.round();
    expect(queried).toContain(JOB_MARKER_PK);
  });
});

describe("counter repair", () => {
  it("a round finds a counter that disagrees with the running tasks and sets it right", async () => {
    await h.setConfig(bistroFixture("simple.json"));
    await h.addWorker("w1");
    expect((await h.round()).repairedCounters).toBe(0);
    const lease = (await acquireLease(h.store, "vandal", h.now() + 120_000, 1_000))!;
    await repairCounters(h.store, lease, [
      { counter: "node#scheduler", resource: "concurrency", stored: 3, expected: 1 },
    ]);
    h.advance(125_000);
    await h.heartbeat();
    const report = await h.round();
    expect(report.repairedCounters).toBe(1);
    expect(report.started).toEqual([]); // 3 tasks really run: no room, whatever the counter said
    expect((await readCounters(h.store)).get("node#scheduler")?.get("concurrency")).toBe(3);
  });
});
