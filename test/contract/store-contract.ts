// The one contract of the store ports (lib/store/ports.ts), run against every adapter: the
// in-memory one by test/unit/store-memory.test.ts, DynamoDB Local by
// test/integration/store-contract.test.ts. An adapter that passes it may stand in for the other.
import { MAX_CONFIG_ENTRY_BYTES } from "../../lib/config/limits";
import type { WorkerRecord } from "../../lib/model/worker";
import { ConflictError, LeaseLostError, NotFoundError } from "../../lib/store/errors";
import type { StorePorts } from "../../lib/store/ports";
import { EMPTY_SCHEDULER_STATE, type SchedulerState } from "../../lib/store/scheduler-state";
import { describeTaskReadsContract } from "./task-reads-contract";
import { describeTasksContract } from "./tasks-contract";

export interface ContractSubject {
  ports: StorePorts;
  destroy?: () => void;
}

const worker = (id: string, instanceId: string, overrides: Partial<WorkerRecord> = {}): WorkerRecord => ({
  id,
  hostname: `${id}.example`,
  instanceId,
  queueUrl: `https://queue/${id}`,
  resources: { cpu: 4 },
  heartbeatPeriodSec: 15,
  registeredAtMs: 1_000,
  heartbeatAtMs: 1_000,
  secretHash: `hash-of-${instanceId}`,
  ...overrides,
});

const nodes = (names: string[]) => names.map((name) => ({ name, level: "db", parent: "instance", enabled: true }));

/** Declares the contract's tests; `subject` gives each test a fresh, empty store. */
export function describeStoreContract(adapter: string, subject: () => Promise<ContractSubject>): void {
  describe(`store ports contract: ${adapter}`, () => {
    let current: ContractSubject;
    let store: StorePorts;
    beforeEach(async () => {
      current = await subject();
      store = current.ports;
    });
    afterEach(() => {
      current.destroy?.();
    });

    describe("lease", () => {
      it("can be taken after a poke on a fresh store (the poke leaves no holder)", async () => {
        await store.lease.markRoundWanted();
        expect(await store.lease.acquire("first", 1_000, 10_000)).toMatchObject({ owner: "first", epoch: 1, round: 1 });
      });

      it("is exclusive while unexpired; a takeover after expiry raises the epoch and fences the old holder", async () => {
        const a = (await store.lease.acquire("a", 1_000, 10_000))!;
        expect(a).toEqual({ owner: "a", epoch: 1, round: 1, expiresAtMs: 11_000 });
        expect(await store.lease.acquire("b", 5_000, 10_000)).toBeNull();
        const b = (await store.lease.acquire("b", 12_000, 10_000))!;
        expect(b).toMatchObject({ owner: "b", epoch: 2, round: 2 });
        const state: SchedulerState = { ...EMPTY_SCHEDULER_STATE, dispatchedThroughRound: 7 };
        await expect(store.schedulerState.write(a, state)).rejects.toBeInstanceOf(LeaseLostError);
        expect((await store.schedulerState.read()).dispatchedThroughRound).toBe(0);
        await store.schedulerState.write(b, state);
        expect((await store.schedulerState.read()).dispatchedThroughRound).toBe(7);
        // A renewal by the fenced holder is a takeover attempt, refused while b holds.
        expect(await store.lease.acquire("a", 13_000, 10_000, a)).toBeNull();
      });

      it("renews for the holder with the same epoch, numbering each round", async () => {
        const first = (await store.lease.acquire("c", 1_000, 10_000))!;
        const renewed = await store.lease.acquire("c", 2_000, 10_000, first);
        expect(renewed).toEqual({ owner: "c", epoch: first.epoch, round: first.round + 1, expiresAtMs: 12_000 });
      });

      it("keeps a round wanted while held: release refuses until the mark is cleared", async () => {
        const lease = (await store.lease.acquire("r", 1_000, 10_000))!;
        await store.lease.markRoundWanted();
        expect(await store.lease.releaseUnlessWanted(lease)).toBe(false);
        await store.lease.clearRoundWanted(lease);
        expect(await store.lease.releaseUnlessWanted(lease)).toBe(true);
        // Released: anyone may take it at once, with a new epoch.
        expect(await store.lease.acquire("s", 1_500, 10_000)).toMatchObject({ owner: "s", epoch: 2 });
      });

      it("refuses holder-only writes to a holder that lost the lease", async () => {
        const old = (await store.lease.acquire("old", 1_000, 1_000))!;
        const now = (await store.lease.acquire("new", 5_000, 10_000))!;
        await expect(store.lease.clearRoundWanted(old)).rejects.toBeInstanceOf(LeaseLostError);
        expect(await store.lease.recordWake(old, 9_000)).toBe(false);
        expect(await store.lease.releaseUnlessWanted(old)).toBe(false);
        await store.lease.release(old); // a no-op: the new holder keeps it
        expect(await store.lease.acquire("third", 6_000, 10_000)).toBeNull();
        expect(await store.lease.recordWake(now, 9_000)).toBe(true);
        expect(await store.lease.acquire("new", 7_000, 10_000, now)).toMatchObject({
          wakeAtMs: 9_000,
          epoch: now.epoch,
        });
      });
    });

    describe("config", () => {
      it("is empty at first", async () => {
        expect(await store.config.currentVersion()).toBeNull();
        expect(await store.config.get()).toBeNull();
        expect(await store.config.listVersions()).toEqual([]);
      });

      it("stores versions under optimistic concurrency; a lost race changes nothing", async () => {
        expect(await store.config.put({ a: 1 }, null, 100)).toBe(1);
        await expect(store.config.put({ a: 9 }, null, 150)).rejects.toBeInstanceOf(ConflictError);
        expect(await store.config.put({ a: 2 }, 1, 200)).toBe(2);
        await expect(store.config.put({ a: 9 }, 1, 250)).rejects.toBeInstanceOf(ConflictError);
        expect(await store.config.get()).toEqual({ version: 2, document: { a: 2 }, updatedAtMs: 200 });
        expect(await store.config.get(1)).toEqual({ version: 1, document: { a: 1 }, updatedAtMs: 100 });
        expect(await store.config.get(3)).toBeNull();
      });

      it("keeps the last five versions readable", async () => {
        for (let v = 1; v <= 7; v++) await store.config.put({ v }, v === 1 ? null : v - 1, v * 10);
        expect((await store.config.listVersions()).map((v) => v.version)).toEqual([3, 4, 5, 6, 7]);
        expect(await store.config.get(2)).toBeNull();
        expect((await store.config.get(3))?.document).toEqual({ v: 3 });
        expect(await store.config.currentVersion()).toBe(7);
      });

      it("refuses an entry too large for one item and keeps what was stored", async () => {
        await store.config.put({ small: true }, null, 1);
        const huge = { big: "x".repeat(MAX_CONFIG_ENTRY_BYTES + 1) };
        await expect(store.config.put(huge, 1, 2)).rejects.toThrow(RangeError);
        expect(await store.config.get()).toEqual({ version: 1, document: { small: true }, updatedAtMs: 1 });
      });

      it("hands out copies: changing a read document changes nothing stored", async () => {
        const document = { jobs: { j: { owner: "me" } } };
        await store.config.put(document, null, 1);
        document.jobs.j.owner = "changed before read";
        const read = (await store.config.get())!;
        expect(read.document).toEqual({ jobs: { j: { owner: "me" } } });
        (read.document.jobs as Record<string, unknown>).j = "changed after read";
        expect((await store.config.get())!.document).toEqual({ jobs: { j: { owner: "me" } } });
      });
    });

    describe("workers", () => {
      it("registers, reads back and lists by id", async () => {
        expect(await store.workers.register(worker("w2", "i2"), 0)).toBeUndefined();
        expect(await store.workers.register(worker("w1", "i1"), 0)).toBeUndefined();
        expect(await store.workers.get("w1")).toEqual(worker("w1", "i1"));
        expect(await store.workers.get("nobody")).toBeUndefined();
        expect((await store.workers.list()).map((w) => w.id)).toEqual(["w1", "w2"]);
      });

      it("lets a new instance take an id only from one that is gone", async () => {
        await store.workers.register(worker("w", "old"), 0);
        await expect(store.workers.register(worker("w", "new"), 500)).rejects.toBeInstanceOf(ConflictError);
        // The same instance registering again (a retried call) is fine.
        expect(await store.workers.register(worker("w", "old"), 500)).toBeUndefined();
        // Silent since before the stale line: replaced, and the replaced record comes back.
        expect(await store.workers.register(worker("w", "new"), 5_000)).toMatchObject({ instanceId: "old" });
        expect((await store.workers.get("w"))?.instanceId).toBe("new");
      });

      it("allows a re-registration of one instance only from the same caller", async () => {
        await store.workers.register(worker("w", "i", { principal: "role-a" }), 0);
        await expect(store.workers.register(worker("w", "i", { principal: "role-b" }), 0)).rejects.toBeInstanceOf(
          ConflictError,
        );
        expect(await store.workers.register(worker("w", "i", { principal: "role-a" }), 0)).toBeUndefined();
      });

      it("records heartbeats of the registered instance with its secret only", async () => {
        await store.workers.register(worker("w", "i"), 0);
        await expect(store.workers.heartbeat("w", "i", "wrong", 2_000)).rejects.toBeInstanceOf(NotFoundError);
        await expect(store.workers.heartbeat("w", "other", "hash-of-i", 2_000)).rejects.toBeInstanceOf(NotFoundError);
        await expect(store.workers.heartbeat("nobody", "i", "hash-of-i", 2_000)).rejects.toBeInstanceOf(NotFoundError);
        const listed = await store.workers.heartbeat("w", "i", "hash-of-i", 2_000, {
          attempts: ["a1"],
          listedAtMs: 1_900,
        });
        expect(listed).toMatchObject({ heartbeatAtMs: 2_000, runningAttempts: ["a1"], runningListedAtMs: 1_900 });
        const bare = await store.workers.heartbeat("w", "i", "hash-of-i", 3_000);
        expect(bare.heartbeatAtMs).toBe(3_000);
        expect(bare).not.toHaveProperty("runningAttempts");
        expect(await store.workers.get("w")).not.toHaveProperty("runningListedAtMs");
      });

      it("marks an instance lost once, after which it may not beat and its id is free", async () => {
        await store.workers.register(worker("w", "i"), 0);
        expect(await store.workers.markLost("w", "other", 5_000)).toBe(false);
        expect(await store.workers.markLost("w", "i", 5_000)).toBe(true);
        expect(await store.workers.markLost("w", "i", 6_000)).toBe(false);
        expect((await store.workers.get("w"))?.lostAtMs).toBe(5_000);
        await expect(store.workers.heartbeat("w", "i", "hash-of-i", 6_000)).rejects.toBeInstanceOf(NotFoundError);
        expect(await store.workers.register(worker("w", "next"), 0)).toMatchObject({ instanceId: "i" });
      });
    });

    describe("node sets", () => {
      it("stores versions; equal content writes nothing, whatever version was expected", async () => {
        expect(await store.nodeSets.readHead("tree")).toBeNull();
        expect(await store.nodeSets.read("tree")).toBeNull();
        const first = await store.nodeSets.write("tree", nodes(["a", "b"]), 100, null);
        expect(first).toMatchObject({ changed: true, head: { version: 1, count: 2, parts: 1, updatedAtMs: 100 } });
        expect(first.bytesWritten).toBeGreaterThan(first.head.bytes);
        const again = await store.nodeSets.write("tree", nodes(["a", "b"]), 200, 42);
        expect(again).toEqual({ changed: false, bytesWritten: 0, head: first.head });
        expect(await store.nodeSets.read("tree")).toEqual({ head: first.head, nodes: nodes(["a", "b"]) });
        const body = (await store.nodeSets.readBody("tree"))!;
        expect(body.head).toEqual(first.head);
        expect(body.body.length).toBe(first.head.bytes);
      });

      it("refuses a write that expected another version, and keeps the stored set", async () => {
        await store.nodeSets.write("s", nodes(["a"]), 1, null);
        await expect(store.nodeSets.write("s", nodes(["b"]), 2, null)).rejects.toBeInstanceOf(ConflictError);
        await expect(store.nodeSets.write("s", nodes(["b"]), 2, 7)).rejects.toBeInstanceOf(ConflictError);
        expect((await store.nodeSets.read("s"))?.nodes).toEqual(nodes(["a"]));
        const second = await store.nodeSets.write("s", nodes(["b"]), 3, 1);
        expect(second.head).toMatchObject({ version: 2, count: 1 });
        // Without an expected version, whatever is stored is replaced.
        expect((await store.nodeSets.write("s", nodes(["c"]), 4)).head.version).toBe(3);
        expect((await store.nodeSets.read("s"))?.nodes).toEqual(nodes(["c"]));
      });
    });

    describe("scheduler state", () => {
      it("reads the empty state before any write, and a written one after", async () => {
        expect(await store.schedulerState.read()).toEqual(EMPTY_SCHEDULER_STATE);
        const lease = (await store.lease.acquire("r", 1_000, 10_000))!;
        const state: SchedulerState = {
          ...EMPTY_SCHEDULER_STATE,
          orphanTimers: [{ job: "j", node: "n", firstSeenSec: 5 }],
          workerCursors: { all: "w1", byHost: { h: "w2" } },
          dispatchedThroughRound: 3,
          lastResendAtMs: 900,
        };
        await store.schedulerState.write(lease, state);
        expect(await store.schedulerState.read()).toEqual(state);
      });

      it("counts changes from 0", async () => {
        expect(await store.schedulerState.readChangeSequence()).toBe(0);
        await store.schedulerState.bumpChangeSequence();
        await store.schedulerState.bumpChangeSequence();
        expect(await store.schedulerState.readChangeSequence()).toBe(2);
      });
    });

    describeTasksContract(() => store);
    describeTaskReadsContract(() => store);
  });
}
