// Idle rounds (ADR 0003): once a round changed nothing, a round finds that out from four small
// reads (scheduler state, change sequence, config head, workers), takes no lease and writes
// nothing, whatever the number of finished tasks; every change a plan depends on, and every
// timer, makes the next round a full one again. Requests are counted on DynamoDB Local.
import type { StartMessage } from "../../lib/dispatch/messages";
import { replaceIdleTaskStatus } from "../../lib/store/replace-task-status";
import { getTasks } from "../../lib/store/tasks";
import { bistroFixture, roundHarness } from "../helpers/round";
import { meterRequests, type RequestMeter } from "../helpers/request-meter";
import { seedFinishedTasks } from "../helpers/seed-tasks";

let h: Awaited<ReturnType<typeof roundHarness>>;
let meter: RequestMeter;
beforeEach(async () => {
  h = await roundHarness(5);
  meter = meterRequests(h.store.doc);
});
afterEach(() => {
  h.destroy();
});

/** Runs rounds, finishing every started task as `rawStatus`, until a round starts nothing. */
async function runAll(rawStatus = "done"): Promise<void> {
  for (let i = 0; i < 10; i++) {
    const report = await h.round();
    const orders = (await h.orders("w1")).filter((o): o is StartMessage => o.type === "start");
    if (orders.length > 0) {
      await h.finish(orders.map((o) => ({ job: o.job, node: o.node, attempt: o.attempt, rawStatus })));
    }
    if (report.started.length === 0 && orders.length === 0) return;
  }
  throw new Error("the rounds did not settle");
}

/** An idle round's cost: requests and read units, after checking it wrote nothing. */
async function idleRound(): Promise<{ reads: number; readUnits: number }> {
  meter.reset();
  const report = await h.round();
  expect(report.idle).toBe(true);
  expect(meter.writeRequests()).toBe(0);
  expect(meter.writeUnits()).toBe(0);
  return { reads: meter.readRequests(), readUnits: meter.readUnits() };
}

describe("an idle round", () => {
  it("reads four small items, takes no lease and writes nothing, however many tasks finished", async () => {
    await h.setConfig(bistroFixture("simple.json"));
    await h.addWorker("w1");
    // The last of these rounds saw the last finish, started nothing and left its quiet mark.
    await runAll();
    const small = await idleRound();
    expect(small.reads).toBe(4);
    expect(small.readUnits).toBeGreaterThan(0);
    expect(small.readUnits).toBeLessThanOrEqual(4);

    // Two thousand finished tasks of a job since deleted: one full round reads them, through the
    // two change entries the seeding logged (a warm round, ADR 0003 step 2: not the 2,000 items)...
    const nodes = Array.from({ length: 2000 }, (_, i) => `old-${String(i).padStart(5, "0")}`);
    await seedFinishedTasks(h.store, "deleted_job", nodes, h.now() / 1000);
    meter.reset();
    expect((await h.round()).idle).toBeUndefined();
    expect(meter.readUnits()).toBeGreaterThan(4);
    expect(meter.readUnits()).toBeLessThan(40);
    // ...and the idle rounds after it cost what they cost before.
    h.advance(30_000);
    await h.heartbeat();
    expect(await idleRound()).toEqual(small);
  });
});

describe("a round is full again", () => {
  beforeEach(async () => {
    await h.setConfig({
      ...bistroFixture("simple.json"),
      "bistro_job->simple_job": { owner: "t", backoff: [20, "fail"] },
    });
    await h.addWorker("w1");
  });

  it("after a status, a forgive, a config change or a worker's change of health", async () => {
    await runAll();
    await idleRound();

    // A forgive (a status replacement) bumps the change sequence: the task runs again.
    const [item] = await getTasks(h.store, [{ job: "simple_job", node: "node11" }]);
    await replaceIdleTaskStatus(h.store, item!, { bits: 1, timeSec: h.now() / 1000, backoffSec: 0 }, "incomplete");
    const rerun = await h.round();
    expect(rerun.started.map((s) => s.node)).toEqual(["node11"]);
    await runAll();
    await idleRound();

    // A config change.
    await h.setConfig({ ...bistroFixture("simple.json"), "bistro_job->other_job": { owner: "t" } });
    expect((await h.round()).started).toHaveLength(3);
    await runAll();
    await idleRound();

    // A worker that falls silent past the grace turns unhealthy: its health is part of the mark.
    h.advance(80_000);
    expect((await h.round()).idle).toBeUndefined();
    await h.heartbeat();
    await h.round();
    await idleRound();
  });

  it("when a backoff ends, not before", async () => {
    await runAll("error_backoff");
    // Every task is backing off for 20 s: the round after the statuses starts nothing and is quiet.
    expect((await h.round()).started).toEqual([]);
    h.advance(10_000);
    await idleRound();
    h.advance(10_001);
    const retry = await h.round();
    expect(retry.idle).toBeUndefined();
    expect(retry.started).toHaveLength(3);
  });
});
