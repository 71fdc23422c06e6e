// Checkpoints of the warm task state (lib/round/checkpoint.ts): a body holds the state exactly,
// an unreadable one counts as none, and a round writes one only when it is due.
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import fc from "fast-check";
import { hashSecret } from "../../lib/dispatch/tokens";
import { StatusBits, StatusValues } from "../../lib/model/status";
import {
  CHECKPOINT_EVERY_MS,
  CheckpointFormatError,
  decodeCheckpoint,
  encodeCheckpoint,
  memoryCheckpointStore,
} from "../../lib/round/checkpoint";
import {
  checkpointContent,
  loadTaskItems,
  taskCacheOf,
  type TaskCache,
  type TaskStateHolder,
  type TaskStateJobs,
  writeCheckpointIfDue,
} from "../../lib/round/task-cache";
import type { StoreContext } from "../../lib/store/context";
import type { TaskItem } from "../../lib/store/tasks";

const byKey = (items: Iterable<TaskItem>) =>
  [...items].sort((a, b) => `${a.job}/${a.node}`.localeCompare(`${b.job}/${b.node}`));
const itemsOf = (cache: TaskCache) => byKey([...cache.items.values(), ...cache.done.items()]);

const arbitraryItem = fc.record({
  job: fc.constantFrom("a", "b", "job with spaces"),
  node: fc.string({ minLength: 1, maxLength: 12 }),
  version: fc.integer({ min: 1, max: 1000 }),
  kind: fc.constantFrom("done", "done", "done", "running", "failed", "backoff"),
  attempt: fc.option(fc.tuple(fc.integer({ min: 0, max: 99_999 }), fc.integer({ min: 0, max: 999 }))),
  oddAttempt: fc.boolean(),
  hash: fc.option(fc.string({ minLength: 1, maxLength: 20 })),
  timeSec: fc.integer({ min: 0, max: 2_000_000_000 }),
});

function toItem(a: {
  job: string;
  node: string;
  version: number;
  kind: string;
  attempt: [number, number] | null;
  oddAttempt: boolean;
  hash: string | null;
  timeSec: number;
}): TaskItem {
  const lastAttempt =
    a.attempt === null ? undefined : a.oddAttempt ? `x-${a.attempt[0]}` : `r${a.attempt[0]}.${a.attempt[1]}`;
  const lastTokenHash = a.hash === null ? undefined : a.oddAttempt ? a.hash : hashSecret(a.hash);
  const base = {
    job: a.job,
    node: a.node,
    version: a.version,
    ...(lastAttempt === undefined ? {} : { lastAttempt }),
    ...(lastTokenHash === undefined ? {} : { lastTokenHash }),
  };
  switch (a.kind) {
    case "done":
      return { ...base, state: "done", status: { bits: StatusValues.DONE, timeSec: a.timeSec, backoffSec: 0 } };
    case "running":
      return {
        ...base,
        state: "running",
        running: {
          attempt: `r9.${a.version}`,
          tokenHash: "h",
          worker: "w",
          workerInstance: "i",
          startedAtMs: 1,
          round: 9,
          charges: [{ level: "instance", name: "scheduler", resource: "concurrency", amount: 1 }],
          nextBackoff: { seconds: 15, noMoreBackoffs: false },
        },
      };
    case "failed":
      return {
        ...base,
        state: "failed",
        status: { bits: StatusValues.FAILED, timeSec: a.timeSec, backoffSec: 0, data: { exception: "boom" } },
      };
    default:
      return {
        ...base,
        state: "backoff",
        status: { bits: StatusValues.ERROR_BACKOFF, timeSec: a.timeSec, backoffSec: 60, savedBackoffSec: 30 },
      };
  }
}

describe("a checkpoint body", () => {
  it("holds every item exactly, done ones (in columns) and the others (whole)", () => {
    fc.assert(
      fc.property(fc.array(arbitraryItem, { maxLength: 60 }), (records) => {
        const unique = new Map(records.map((r) => [`${r.job}\u0000${r.node}`, toItem(r)]));
        const cache = taskCacheOf(unique.values(), 42, 1_000, ["gone", "gone too"]);
        const decoded = decodeCheckpoint(encodeCheckpoint(checkpointContent(cache)));
        expect(decoded.sequence).toBe(42);
        expect(decoded.readAtMs).toBe(1_000);
        expect(decoded.retired).toEqual(["gone", "gone too"]);
        const again = taskCacheOf(decoded.items, decoded.sequence, decoded.readAtMs, decoded.retired);
        expect(itemsOf(again)).toEqual(itemsOf(cache));
        // Done tasks come back held compactly, the others walked, as in the state written.
        expect(again.done.size).toBe(cache.done.size);
        expect([...again.items.keys()].sort()).toEqual([...cache.items.keys()].sort());
      }),
      { numRuns: 200 },
    );
  });

  it("of another format, or not gzipped JSON, is refused with a CheckpointFormatError", () => {
    expect(() => decodeCheckpoint(Buffer.from("not gzip"))).toThrow(CheckpointFormatError);
    const cache = taskCacheOf([], 1, 1);
    const body = encodeCheckpoint(checkpointContent(cache));
    const { gunzipSync, gzipSync } = jest.requireActual<typeof import("node:zlib")>("node:zlib");
    const document = JSON.parse(gunzipSync(body).toString()) as Record<string, unknown>;
    expect(() => decodeCheckpoint(gzipSync(JSON.stringify({ ...document, format: 3 })))).toThrow(
      /Unknown checkpoint format 3/,
    );
    // Format 1 had no retired jobs: it still loads, with none.
    const { retired: _none, ...formatOne } = document;
    expect(decodeCheckpoint(gzipSync(JSON.stringify({ ...formatOne, format: 1 }))).retired).toEqual([]);
    expect(() => decodeCheckpoint(gzipSync(JSON.stringify({ ...document, retired: "j" })))).toThrow(
      /retired jobs are not a list of names/,
    );
    const done = { j: { node: ["a", "b"], version: [1], bits: [StatusBits.DONE], timeSec: [1], backoffSec: [0] } };
    const torn = gzipSync(JSON.stringify({ ...document, done }));
    expect(() => [...decodeCheckpoint(torn).items]).toThrow(/The done columns of job j differ in length/);
  });
});

describe("writeCheckpointIfDue", () => {
  const cache = () =>
    taskCacheOf(
      [
        {
          job: "j",
          node: "n",
          state: "done",
          version: 2,
          status: { bits: StatusValues.DONE, timeSec: 1, backoffSec: 0 },
        },
      ],
      7,
      5_000,
    );

  it("writes when this process has none, then not again until CHECKPOINT_EVERY_MS has passed", async () => {
    const checkpoints = memoryCheckpointStore();
    const events: unknown[] = [];
    const holder: TaskStateHolder & { taskCache: TaskCache } = {
      taskCache: cache(),
      checkpoints,
      log: (e) => events.push(e.event),
    };
    await writeCheckpointIfDue(holder, 5_000);
    expect(holder.checkpointAtMs).toBe(5_000);
    const first = checkpoints.body;
    expect(first && decodeCheckpoint(first).sequence).toBe(7);
    holder.taskCache.sequence = 8;
    await writeCheckpointIfDue(holder, 5_000 + CHECKPOINT_EVERY_MS - 1);
    expect(checkpoints.body).toBe(first);
    holder.taskCache.readAtMs = 5_000 + CHECKPOINT_EVERY_MS;
    await writeCheckpointIfDue(holder, 5_000 + CHECKPOINT_EVERY_MS);
    expect(checkpoints.body && decodeCheckpoint(checkpoints.body).sequence).toBe(8);
    expect(events).toEqual(["checkpoint-written", "checkpoint-written"]);
  });

  it("never throws: a failed write is logged and tried again next time", async () => {
    const events: unknown[] = [];
    const holder = {
      taskCache: cache(),
      checkpoints: { read: () => Promise.resolve(undefined), write: () => Promise.reject(new Error("S3 is down")) },
      log: (e: Record<string, unknown>) => events.push(e),
    };
    await writeCheckpointIfDue(holder, 5_000);
    expect(events).toEqual([{ event: "checkpoint-failed", error: "S3 is down" }]);
    expect(holder).not.toHaveProperty("checkpointAtMs");
  });
});

const jobsJ: TaskStateJobs = { planned: new Set(["j"]), withTasks: () => Promise.resolve(["j"]) };

describe("a cold load", () => {
  // No entry is needed (the checkpoint is at the current sequence), so no store call is made.
  const store = {} as StoreContext;

  it("starts from the checkpoint when it is young enough, and reads every item when it is not", async () => {
    const checkpoints = memoryCheckpointStore();
    const item: TaskItem = {
      job: "j",
      node: "n",
      state: "done",
      version: 2,
      status: { bits: StatusValues.DONE, timeSec: 1, backoffSec: 0 },
    };
    checkpoints.body = encodeCheckpoint(checkpointContent(taskCacheOf([item], 7, 1_000)));
    const events: unknown[] = [];
    const holder = { checkpoints, log: (e: Record<string, unknown>) => events.push(e.event) };
    expect(await loadTaskItems(store, holder, 7, jobsJ, 2_000)).toEqual([item]);
    expect(events).toEqual(["task-cache-from-checkpoint"]);

    // Twelve hours later the entries it needs may have expired: a full read (here: a store that fails).
    const late = { checkpoints, log: (e: Record<string, unknown>) => events.push(e.event) };
    await expect(loadTaskItems(store, late, 7, jobsJ, 1_000 + 12 * 3600_000)).rejects.toThrow();
    expect(events.at(-1)).toBe("checkpoint-too-old");
  });

  it("reads every item when the entries since the checkpoint are gone, and leaves it due for rewriting", async () => {
    // A table where every query finds nothing: the two entries after the checkpoint are missing.
    const doc = Object.create(DynamoDBDocumentClient.prototype) as DynamoDBDocumentClient;
    doc.send = () => Promise.resolve({ Items: [] });
    const checkpoints = memoryCheckpointStore();
    checkpoints.body = encodeCheckpoint(checkpointContent(taskCacheOf([], 7, 1_000)));
    const events: unknown[] = [];
    const holder: TaskStateHolder = { checkpoints, log: (e) => events.push(e.event) };
    expect(await loadTaskItems({ doc, tableName: "t" }, holder, 9, jobsJ, 2_000)).toEqual([]);
    expect(events).toEqual(["task-cache-reload"]);
    expect(holder.checkpointAtMs).toBeUndefined();
    expect(holder.taskCache?.sequence).toBe(9);
  });

  it("counts an unreadable checkpoint as none", async () => {
    const events: unknown[] = [];
    const holder = {
      checkpoints: { read: () => Promise.resolve(Buffer.from("junk")), write: () => Promise.resolve() },
      log: (e: Record<string, unknown>) => events.push(e.event),
    };
    await expect(loadTaskItems(store, holder, 7, jobsJ, 2_000)).rejects.toThrow();
    expect(events).toEqual(["checkpoint-unreadable"]);
  });
});
