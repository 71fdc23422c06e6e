// Contract of the commit protocol (lib/store/tasks.ts, counters.ts) on DynamoDB Local.
import { GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { jobMarkerKey, JOBS_WITH_TASKS_KEY } from "../../lib/store/keys";
import { acquireLease, type Lease } from "../../lib/store/lease";
import { LeaseLostError } from "../../lib/store/errors";
import { counterDrift, readCounters, repairCounters, usageOfRunningTasks } from "../../lib/store/counters";
import {
  applyFinishes,
  commitStarts,
  getTasks,
  readJobTasks,
  readJobsWithTasks,
  type LimitedCharge,
  type FinishWrite,
  type StartWrite,
} from "../../lib/store/tasks";
import { freshStore } from "../helpers/store";

let store: Awaited<ReturnType<typeof freshStore>>;
let lease: Lease;
let clockMs = 1_000_000;
beforeEach(async () => {
  store = await freshStore();
  lease = (await acquireLease(store, "test-round", clockMs, 60_000))!;
});
afterEach(() => {
  store.destroy();
});

function start(job: string, node: string, charges: LimitedCharge[], expectedVersion: number | null = null): StartWrite {
  return {
    job,
    node,
    attempt: `${job}/${node}/${expectedVersion ?? 0}`,
    tokenHash: `hash-of-${job}/${node}`,
    worker: "w1",
    workerInstance: "w1-a",
    charges,
    nextBackoff: { seconds: 15, noMoreBackoffs: false },
    expectedVersion,
  };
}
const instance = (amount: number, limit: number): LimitedCharge => ({
  level: "instance",
  name: "inst",
  resource: "concurrency",
  amount,
  limit,
});
const host = (name: string, amount: number, limit: number): LimitedCharge => ({
  level: "host",
  name,
  resource: "host_concurrency",
  amount,
  limit,
});
function finishOf(s: StartWrite, attempt = s.attempt): FinishWrite {
  return {
    job: s.job,
    node: s.node,
    attempt,
    status: { bits: 4, timeSec: 100, backoffSec: 0 },
    state: "done",
    charges: s.charges.map(({ level, name, resource, amount }) => ({ level, name, resource, amount })),
  };
}

describe("commitStarts", () => {
  it("writes running task items and sums charges per counter", async () => {
    const starts = [
      start("j", "db1", [instance(1, 10), host("h1", 1, 2)]),
      start("j", "db2", [instance(1, 10), host("h1", 1, 2)]),
      start("j", "db3", [instance(1, 10), host("h2", 1, 2)]),
    ];
    const result = await commitStarts(store, lease, starts, clockMs);
    expect(result.committed).toHaveLength(3);
    expect(result.transactions).toBe(1);
    const counters = await readCounters(store);
    expect(counters.get("node#inst")?.get("concurrency")).toBe(3);
    expect(counters.get("node#h1")?.get("host_concurrency")).toBe(2);
    expect(counters.get("node#h2")?.get("host_concurrency")).toBe(1);
    expect(await readJobsWithTasks(store)).toEqual(["j"]);
    const tasks = await readJobTasks(store, "j");
    expect(tasks.map((t) => [t.node, t.state, t.version, t.running?.round])).toEqual([
      ["db1", "running", 1, lease.round],
      ["db2", "running", 1, lease.round],
      ["db3", "running", 1, lease.round],
    ]);
  });

  it("records jobs with one marker each, so any number of jobs (and 1 KB names) can start", async () => {
    // 500 names of 1,000 bytes: one set item holding them would pass DynamoDB's 400 KB item limit.
    const names = Array.from({ length: 500 }, (_, i) => `${String(i).padStart(4, "0")}${"j".repeat(996)}`);
    const result = await commitStarts(
      store,
      lease,
      names.map((job) => start(job, "db1", [instance(1, 1000)])),
      clockMs,
    );
    expect(result.rejected).toEqual([]);
    expect(result.refused).toEqual([]);
    expect(result.committed).toHaveLength(500);
    expect(await readJobsWithTasks(store)).toEqual(names);
    const marker = await store.doc.send(
      new GetCommand({ TableName: store.tableName, Key: jobMarkerKey(names[0]!), ConsistentRead: true }),
    );
    expect(marker.Item).toEqual(jobMarkerKey(names[0]!));
  });

  it("still finds the jobs an older version recorded in one set item", async () => {
    await store.doc.send(
      new UpdateCommand({
        TableName: store.tableName,
        Key: JOBS_WITH_TASKS_KEY,
        UpdateExpression: "ADD #jobs :jobs",
        ExpressionAttributeNames: { "#jobs": "jobs" },
        ExpressionAttributeValues: { ":jobs": new Set(["old-a", "old-b"]) },
      }),
    );
    await commitStarts(store, lease, [start("new", "db1", [instance(1, 10)])], clockMs);
    expect(await readJobsWithTasks(store)).toEqual(["new", "old-a", "old-b"]);
  });

  it("refuses a start that would pass a limit, and a start of a task that changed, keeping the rest", async () => {
    await commitStarts(store, lease, [start("j", "db1", [host("h1", 1, 1)])], clockMs);
    const result = await commitStarts(
      store,
      lease,
      [
        start("j", "db2", [host("h1", 1, 1)]),
        start("j", "db1", [host("h9", 1, 5)]),
        start("j", "db3", [host("h2", 1, 1)]),
      ],
      clockMs,
    );
    expect(result.committed.map((s) => s.node)).toEqual(["db3"]);
    expect(result.rejected.map((r) => r.start.node).sort()).toEqual(["db1", "db2"]);
    const counters = await readCounters(store);
    expect(counters.get("node#h1")?.get("host_concurrency")).toBe(1);
    expect(counters.get("node#h9")).toBeUndefined();
  });

  it("splits into transactions of at most 100 items", async () => {
    const starts = Array.from({ length: 250 }, (_, i) => start("bulk", `n${i}`, [instance(1, 1000)]));
    const result = await commitStarts(store, lease, starts, clockMs);
    expect(result.committed).toHaveLength(250);
    expect(result.transactions).toBe(3); // per transaction: fence, jobs set, counter, 97 tasks
    expect((await readCounters(store)).get("node#inst")?.get("concurrency")).toBe(250);
  });

  it("commits nothing once the lease was taken over", async () => {
    clockMs += 120_000;
    await acquireLease(store, "usurper", clockMs, 60_000);
    await expect(commitStarts(store, lease, [start("j", "db1", [instance(1, 10)])], clockMs)).rejects.toBeInstanceOf(
      LeaseLostError,
    );
    expect(await readJobTasks(store, "j")).toEqual([]);
    expect(await readCounters(store)).toEqual(new Map());
  });
});

describe("applyFinishes", () => {
  it("records the status and releases charges once; duplicates and other attempts change nothing", async () => {
    const a = start("j", "db1", [instance(1, 10), host("h1", 1, 2)]);
    const b = start("j", "db2", [instance(1, 10), host("h1", 1, 2)]);
    await commitStarts(store, lease, [a, b], clockMs);

    const first = await applyFinishes(store, [finishOf(a), finishOf(b, "some-other-attempt")]);
    expect(first.applied.map((f) => f.node)).toEqual(["db1"]);
    expect(first.stale.map((f) => f.node)).toEqual(["db2"]);
    const again = await applyFinishes(store, [finishOf(a)]);
    expect(again.applied).toEqual([]);
    expect(again.stale).toHaveLength(1);

    const counters = await readCounters(store);
    expect(counters.get("node#inst")?.get("concurrency")).toBe(1);
    expect(counters.get("node#h1")?.get("host_concurrency")).toBe(1);
    const [db1, db2] = await getTasks(store, [
      { job: "j", node: "db1" },
      { job: "j", node: "db2" },
    ]);
    expect(db1).toMatchObject({ state: "done", version: 2, status: { bits: 4 } });
    expect(db1?.running).toBeUndefined();
    expect(db2).toMatchObject({ state: "running", version: 1 });
  });

  it("lets a finished task start again only from the version the round read", async () => {
    const a = start("j", "db1", [instance(1, 10)]);
    await commitStarts(store, lease, [a], clockMs);
    await applyFinishes(store, [finishOf(a)]);
    const stale = await commitStarts(store, lease, [start("j", "db1", [instance(1, 10)], 1)], clockMs);
    expect(stale.rejected).toHaveLength(1);
    const fresh = await commitStarts(store, lease, [start("j", "db1", [instance(1, 10)], 2)], clockMs);
    expect(fresh.committed).toHaveLength(1);
    const [task] = await readJobTasks(store, "j");
    expect(task).toMatchObject({ state: "running", version: 3, status: { bits: 4 } });
  });
});

describe("counter repair", () => {
  it("finds and fixes counters that disagree with running tasks", async () => {
    await commitStarts(
      store,
      lease,
      [start("j", "db1", [instance(2, 10)]), start("j", "db2", [host("h1", 1, 2)])],
      clockMs,
    );
    const tasks = await readJobTasks(store, "j");
    expect(counterDrift(await readCounters(store), usageOfRunningTasks(tasks))).toEqual([]);

    // Simulate a lost release: force the counter to 5 while running tasks hold 2.
    await repairCounters(store, lease, [{ counter: "node#inst", resource: "concurrency", stored: 2, expected: 5 }]);
    expect(counterDrift(await readCounters(store), usageOfRunningTasks(tasks))).toEqual([
      { counter: "node#inst", resource: "concurrency", stored: 5, expected: 2 },
    ]);
    const drift = counterDrift(await readCounters(store), usageOfRunningTasks(tasks));
    await repairCounters(store, lease, drift);
    expect(counterDrift(await readCounters(store), usageOfRunningTasks(tasks))).toEqual([]);
  });

  it("repairs several drifted resources of one counter item in one update", async () => {
    const charges = [
      { level: "worker", name: "w1", resource: "cpu", amount: 2, limit: 8 },
      { level: "worker", name: "w1", resource: "mem", amount: 4, limit: 16 },
    ];
    await commitStarts(store, lease, [start("j", "db1", charges)], clockMs);
    const tasks = await readJobTasks(store, "j");
    await repairCounters(store, lease, [
      { counter: "worker#w1", resource: "cpu", stored: 2, expected: 5 },
      { counter: "worker#w1", resource: "mem", stored: 4, expected: 9 },
    ]);
    const drift = counterDrift(await readCounters(store), usageOfRunningTasks(tasks));
    expect(drift).toHaveLength(2);
    await repairCounters(store, lease, drift);
    expect(counterDrift(await readCounters(store), usageOfRunningTasks(tasks))).toEqual([]);
  });
});
