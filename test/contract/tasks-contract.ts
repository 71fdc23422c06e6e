// The tasks port's writes in the store contract (test/contract/store-contract.ts declares it for
// every adapter): what calls return and what later reads show, never how many writes it took.
import { taskId } from "../../lib/model/task";
import { applyChange } from "../../lib/round/task-cache";
import { counterDrift, usageOfRunningTasks } from "../../lib/store/counters";
import { LeaseLostError } from "../../lib/store/errors";
import type { Lease } from "../../lib/store/lease";
import type { StorePorts } from "../../lib/store/ports";
import type { StartWrite, TaskItem } from "../../lib/store/tasks";
import { commitAccounted, done, finishOf, host, nodesOf, NOW, storeWithLease, slot, start } from "./task-fixtures";

/** Declares the tests of starts and finishes; `ports()` is the current test's fresh store. */
export function describeTasksContract(ports: () => StorePorts): void {
  describe("tasks: starts and finishes", () => {
    let store: StorePorts;
    let lease: Lease;
    beforeEach(async () => ({ store, lease } = await storeWithLease(ports)));
    const commit = (starts: StartWrite[]) => commitAccounted(store, lease, starts);
    const task = async (job: string, node: string) => (await store.tasks.getTasks([{ job, node }]))[0];
    /** Counters hold exactly the charges of the running tasks of `jobs`. */
    const expectCountersMatch = async (jobs: string[]) => {
      const running = usageOfRunningTasks(await store.tasks.readTasks(jobs));
      expect(counterDrift(await store.tasks.readCounters(), running)).toEqual([]);
    };

    it("starts tasks: running at version 1 with the attempt and round, charges summed per counter", async () => {
      const starts = [
        start("j", "a", [slot(1, 10), host("h1", 1, 2)]),
        start("j", "b", [slot(2, 10), host("h1", 1, 2)]),
      ];
      const result = await commit(starts);
      expect(nodesOf(result.committed)).toEqual(["a", "b"]);
      expect(await store.tasks.readJobTasks("j")).toEqual([
        {
          job: "j",
          node: "a",
          state: "running",
          version: 1,
          running: {
            attempt: "j/a/0",
            tokenHash: "hash-of-j/a/0",
            worker: "w1",
            workerInstance: "w1-a",
            startedAtMs: NOW,
            round: lease.round,
            charges: [
              { level: "instance", name: "inst", resource: "concurrency", amount: 1 },
              { level: "host", name: "h1", resource: "host_concurrency", amount: 1 },
            ],
            nextBackoff: { seconds: 15, noMoreBackoffs: false },
          },
        },
        expect.objectContaining({ node: "b", state: "running", version: 1 }),
      ]);
      const counters = await store.tasks.readCounters();
      expect(counters.get("node#inst")?.get("concurrency")).toBe(3);
      expect(counters.get("node#h1")?.get("host_concurrency")).toBe(2);
      expect(await store.tasks.readJobsWithTasks()).toEqual(["j"]);
    });

    it("restarts a task only from the version the plan read; a stale version changes nothing", async () => {
      const first = start("j", "a", [slot(1, 10)]);
      await commit([first]);
      // Running: neither its version nor "no item" lets it start again.
      const whileRunning = await commit([start("j", "a", [slot(1, 10)], 1), start("j", "a", [slot(1, 10)])]);
      expect(whileRunning.committed).toEqual([]);
      await store.tasks.applyFinishes([finishOf(first)]);
      const before = await task("j", "a");
      expect(before).toMatchObject({ state: "done", version: 2, status: done, lastAttempt: first.attempt });
      const stale = await commit([start("j", "a", [slot(1, 10)], 1), start("j", "a", [slot(1, 10)], null)]);
      expect(stale.committed).toEqual([]);
      expect(stale.rejected).toHaveLength(2);
      expect(await task("j", "a")).toEqual(before);
      await expectCountersMatch(["j"]);
      const fresh = await commit([start("j", "a", [slot(1, 10)], 2)]);
      expect(fresh.committed).toHaveLength(1);
      // The last finished status stays while it runs again (it is prev_status).
      expect(await task("j", "a")).toMatchObject({
        state: "running",
        version: 3,
        status: done,
        running: { attempt: "j/a/2" },
      });
      await expectCountersMatch(["j"]);
    });

    it("never takes a counter past its limit: such starts are rejected, the others commit", async () => {
      await commit([start("j", "a", [host("h1", 1, 1)])]);
      const result = await commit([
        start("j", "b", [host("h1", 1, 1)]),
        start("j", "c", [host("h2", 1, 1)]),
        start("j", "d", [host("h3", 3, 2)]),
      ]);
      expect(nodesOf(result.committed)).toEqual(["c"]);
      expect(nodesOf(result.rejected)).toEqual(["b", "d"]);
      expect((await store.tasks.readJobTasks("j")).map((t) => t.node)).toEqual(["a", "c"]);
      const counters = await store.tasks.readCounters();
      expect(counters.get("node#h1")?.get("host_concurrency")).toBe(1);
      expect(counters.get("node#h3")?.get("host_concurrency") ?? 0).toBe(0);
    });

    it("never takes a counter past its limit by summing starts of one call, even on its first use", async () => {
      const starts = ["a", "b", "c"].map((node) => start("j", node, [host("fresh", 1, 2)]));
      const result = await commit(starts);
      expect(result.committed.length).toBeLessThanOrEqual(2);
      expect((await store.tasks.readCounters()).get("node#fresh")?.get("host_concurrency") ?? 0).toBeLessThanOrEqual(2);
      expect((await store.tasks.readJobTasks("j")).map((t) => t.node)).toEqual(nodesOf(result.committed));
      await expectCountersMatch(["j"]);
    });

    it("refuses a start it cannot hold (a key empty or over the size limit) and commits the others", async () => {
      const long = start("j", "n".repeat(1025), [slot(1, 10)]);
      const empty = start("j", "", [slot(1, 10)]);
      const result = await commit([long, start("j", "ok", [slot(1, 10)]), empty]);
      expect(nodesOf(result.committed)).toEqual(["ok"]);
      expect(nodesOf(result.refused)).toEqual(nodesOf([long, empty]));
      expect((await store.tasks.readJobTasks("j")).map((t) => t.node)).toEqual(["ok"]);
      await expectCountersMatch(["j"]);
      // A finish of such a task is refused the same way; the others apply.
      const ended = await store.tasks.applyFinishes([finishOf(long), finishOf(start("j", "ok", [slot(1, 10)]))]);
      expect(ended.refused.map((r) => r.finish.node)).toEqual([long.node]);
      expect(ended.applied.map((f) => f.node)).toEqual(["ok"]);
      await expectCountersMatch(["j"]);
    });

    it("commits nothing under a lost lease, starts or fenced finishes", async () => {
      const running = start("j", "a", [slot(1, 10)]);
      await commit([running]);
      const sequence = await store.schedulerState.readChangeSequence();
      const usurper = (await store.lease.acquire("usurper", NOW + 120_000, 60_000))!;
      expect(usurper.epoch).toBeGreaterThan(lease.epoch);
      await expect(store.tasks.commitStarts(lease, [start("k", "b", [slot(1, 10)])], NOW)).rejects.toBeInstanceOf(
        LeaseLostError,
      );
      await expect(store.tasks.applyFinishes([finishOf(running)], lease)).rejects.toBeInstanceOf(LeaseLostError);
      expect(await store.tasks.readJobsWithTasks()).toEqual(["j"]);
      expect(await store.tasks.readJobTasks("k")).toEqual([]);
      expect(await task("j", "a")).toMatchObject({ state: "running", version: 1 });
      expect((await store.tasks.readCounters()).get("node#inst")?.get("concurrency")).toBe(1);
      expect(await store.schedulerState.readChangeSequence()).toBe(sequence);
      // The holder's own finish, and a worker's (unfenced), still apply.
      expect((await store.tasks.applyFinishes([finishOf(running)], usurper)).applied).toHaveLength(1);
    });

    it("repairs drifted counters to the running tasks' charges, only from the amounts read", async () => {
      await commit([start("j", "a", [slot(2, 10), host("h1", 1, 2)])]);
      const running = () => store.tasks.readTasks(["j"]).then(usageOfRunningTasks);
      // Drift as a lost release leaves it: set two resources (one never used) too high.
      const raised = [
        { counter: "node#inst", resource: "concurrency", stored: 2, expected: 5 },
        { counter: "node#h9", resource: "host_concurrency", stored: 0, expected: 3 },
      ];
      expect(await store.tasks.repairCounters(lease, raised)).toBe(true);
      const driftNow = async () =>
        counterDrift(await store.tasks.readCounters(), await running()).sort((a, b) =>
          a.counter.localeCompare(b.counter),
        );
      const drift = await driftNow();
      expect(drift).toEqual([
        { counter: "node#h9", resource: "host_concurrency", stored: 3, expected: 0 },
        { counter: "node#inst", resource: "concurrency", stored: 5, expected: 2 },
      ]);
      // A counter that no longer holds what was read (a release raced the repair): nothing applies.
      const stale = drift.map((d) => (d.counter === "node#inst" ? { ...d, stored: 4 } : d));
      expect(await store.tasks.repairCounters(lease, stale)).toBe(false);
      expect(await driftNow()).toEqual(drift);
      // Under a lost lease nothing applies either.
      await store.lease.acquire("usurper", NOW + 120_000, 60_000);
      await expect(store.tasks.repairCounters(lease, drift)).rejects.toBeInstanceOf(LeaseLostError);
      expect(await driftNow()).toEqual(drift);
    });

    it("applies a finish once: the status is recorded, the charges released; a duplicate is stale", async () => {
      const a = start("j", "a", [slot(1, 10), host("h1", 1, 2)]);
      const b = start("j", "b", [slot(1, 10), host("h1", 1, 2)]);
      await commit([a, b]);
      const first = await store.tasks.applyFinishes([finishOf(a), finishOf(a)]);
      expect(first.applied).toHaveLength(1);
      expect(first.stale).toHaveLength(1);
      const again = await store.tasks.applyFinishes([finishOf(a)]);
      expect(again).toMatchObject({ applied: [], stale: [finishOf(a)], refused: [] });
      expect(again.transactions).toBeGreaterThanOrEqual(0);
      const ended = await task("j", "a");
      expect(ended).toEqual({
        job: "j",
        node: "a",
        state: "done",
        version: 2,
        status: done,
        lastAttempt: a.attempt,
        lastTokenHash: a.tokenHash,
      });
      const counters = await store.tasks.readCounters();
      expect(counters.get("node#inst")?.get("concurrency")).toBe(1);
      expect(counters.get("node#h1")?.get("host_concurrency")).toBe(1);
      await expectCountersMatch(["j"]);
    });

    it("ends only its own attempt with its token: another attempt or token is stale and changes nothing", async () => {
      const a = start("j", "a", [slot(1, 10)]);
      await commit([a]);
      const before = await task("j", "a");
      for (const other of [
        finishOf(a, { attempt: "some-other-attempt" }),
        finishOf(a, { tokenHash: "forged" }),
        finishOf(start("j", "never-started", [slot(1, 10)])),
      ]) {
        expect(await store.tasks.applyFinishes([other])).toMatchObject({ applied: [], stale: [other] });
      }
      expect(await task("j", "a")).toEqual(before);
      expect((await store.tasks.readCounters()).get("node#inst")?.get("concurrency")).toBe(1);
      // In one call, the stale ones do not keep the real end from applying.
      const together = await store.tasks.applyFinishes([finishOf(a, { tokenHash: "forged" }), finishOf(a)]);
      expect(together.applied).toEqual([finishOf(a)]);
      expect(together.stale).toEqual([finishOf(a, { tokenHash: "forged" })]);
      expect(await task("j", "a")).toMatchObject({ state: "done", lastTokenHash: a.tokenHash });
    });

    it("never releases more than a counter holds: such a finish is refused and the counter kept", async () => {
      const a = start("j", "a", [slot(1, 10)]);
      await commit([a]);
      const result = await store.tasks.applyFinishes([
        finishOf(a, { charges: [{ level: "instance", name: "inst", resource: "concurrency", amount: 5 }] }),
      ]);
      expect(result.refused.map((r) => r.finish.node)).toEqual(["a"]);
      expect(result.applied).toEqual([]);
      expect((await store.tasks.readCounters()).get("node#inst")?.get("concurrency")).toBe(1);
    });

    it("releases a finished task's charges so a start that did not fit now does", async () => {
      const a = start("j", "a", [host("h1", 1, 1)]);
      await commit([a]);
      expect((await commit([start("j", "b", [host("h1", 1, 1)])])).committed).toEqual([]);
      await store.tasks.applyFinishes([finishOf(a)]);
      expect((await commit([start("j", "b", [host("h1", 1, 1)])])).committed).toHaveLength(1);
      expect((await store.tasks.readCounters()).get("node#h1")?.get("host_concurrency")).toBe(1);
      await expectCountersMatch(["j"]);
    });

    it("logs every applied write: a follower of the change log holds what a full read returns", async () => {
      const a = start("j", "a", [slot(1, 10)]);
      await commit([a, start("k", "x", [slot(1, 10)])]);
      const sequence = await store.schedulerState.readChangeSequence();
      const followed = new Map((await store.tasks.readTasks(["j", "k"])).map((t) => [taskId(t.job, t.node), t]));
      await store.tasks.applyFinishes([finishOf(a), finishOf(a, { attempt: "stale" })]);
      await commit([
        start("j", "a", [slot(1, 10)], 2),
        start("j", "b", [slot(1, 10)]),
        start("j", "c", [slot(11, 10)]),
      ]);
      await store.schedulerState.bumpChangeSequence();
      await commit([start("k", "x", [slot(1, 10)], 0)]); // stale
      const now = await store.schedulerState.readChangeSequence();
      expect(now).toBeGreaterThan(sequence + 2);
      const entries = await store.tasks.readChanges(sequence, now);
      expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: now - sequence }, (_, i) => sequence + i + 1));
      for (const entry of entries) for (const change of entry.changes) applyChange(followed, change);
      const read = await store.tasks.readTasks(["j", "k"]);
      expect([...followed.values()].sort(byKey)).toEqual(read.sort(byKey));
      expect(read.find((t) => t.node === "c")).toBeUndefined();
      expect(await store.tasks.readChanges(now, now)).toEqual([]);
    });
  });
}

const byKey = (x: TaskItem, y: TaskItem) => (taskId(x.job, x.node) < taskId(y.job, y.node) ? -1 : 1);
