// Change entries applied to a warm state (ADR 0003 step 2): each change does what its write did to
// the stored item, once; applying a change again, or one the held item already contains, is a no-op.
import { hashSecret } from "../../lib/dispatch/tokens";
import { StatusValues } from "../../lib/model/status";
import { taskId } from "../../lib/model/task";
import { applyChange, applyToCache, promoteDone, taskCacheOf, type TaskCache } from "../../lib/round/task-cache";
import { TASK_DONE } from "../../lib/scheduler/task-index";
import type { TaskChange, TaskItem } from "../../lib/store/tasks";
import { makeTree } from "../helpers/model";

const running = (attempt: string): NonNullable<TaskItem["running"]> => ({
  attempt,
  tokenHash: `hash-${attempt}`,
  worker: "w1",
  workerInstance: "i1",
  startedAtMs: 1000,
  round: 3,
  charges: [{ level: "instance", name: "scheduler", resource: "concurrency", amount: 1 }],
  nextBackoff: { noMoreBackoffs: false, seconds: 1 },
});
const done = { bits: StatusValues.DONE, timeSec: 5, backoffSec: 0 };

function applyAll(items: Map<string, TaskItem>, changes: TaskChange[]): Map<string, TaskItem> {
  for (const change of changes) applyChange(items, change);
  return items;
}

describe("applyChange", () => {
  const start: TaskChange = { kind: "start", job: "j", node: "n", version: 1, running: running("r1.0") };
  const finish: TaskChange = {
    kind: "finish",
    job: "j",
    node: "n",
    attempt: "r1.0",
    state: "done",
    status: done,
    tokenHash: "hash-r1.0",
  };

  it("starts, finishes and replaces as the writes did", () => {
    const items = applyAll(new Map(), [start, finish]);
    expect(items.get(taskId("j", "n"))).toEqual({
      job: "j",
      node: "n",
      state: "done",
      version: 2,
      status: done,
      lastAttempt: "r1.0",
      lastTokenHash: "hash-r1.0",
    });
    const failed = { bits: StatusValues.FAILED, timeSec: 6, backoffSec: 0 };
    applyChange(items, { kind: "replace", job: "j", node: "n", version: 3, state: "failed", status: failed });
    expect(items.get(taskId("j", "n"))).toMatchObject({ state: "failed", status: failed, version: 3 });
  });

  it("ignores changes applied already, in any repetition", () => {
    const once = applyAll(new Map(), [start, finish]);
    const twice = applyAll(new Map(), [start, finish, start, finish, start]);
    expect(twice).toEqual(once);
  });

  it("keeps a newer held item: a full read that saw later writes than the entries", () => {
    const later: TaskItem = {
      job: "j",
      node: "n",
      state: "running",
      version: 3,
      status: done,
      running: running("r2.0"),
    };
    const items = applyAll(new Map([[taskId("j", "n"), later]]), [start, finish]);
    expect(items.get(taskId("j", "n"))).toEqual(later);
  });

  it("keeps the previous status and attempt when a task starts again", () => {
    const items = applyAll(new Map(), [start, finish]);
    applyChange(items, { kind: "start", job: "j", node: "n", version: 3, running: running("r2.0") });
    expect(items.get(taskId("j", "n"))).toMatchObject({
      state: "running",
      version: 3,
      status: done,
      lastAttempt: "r1.0",
      running: { attempt: "r2.0" },
    });
  });
});

describe("the warm state's compact done tasks", () => {
  const tree = makeTree(["host"], { h1: [], h2: [], h3: [] });
  const doneItem = (node: string, version = 2): TaskItem => ({
    job: "j",
    node,
    state: "done",
    version,
    status: done,
    lastAttempt: `r1.${node}`,
    lastTokenHash: `hash-${node}`,
  });
  const all = (cache: TaskCache) =>
    [...cache.items.values(), ...cache.done.items()].sort((a, b) => a.node.localeCompare(b.node));

  it("holds done, idle tasks apart and gives them back whole", () => {
    const failed: TaskItem = { job: "j", node: "h3", state: "failed", version: 1, status: { ...done, bits: 16 } };
    const withData: TaskItem = { ...doneItem("h4"), status: { ...done, data: { rows: 1 } } };
    const cache = taskCacheOf([doneItem("h1"), doneItem("h2"), failed, withData], 7, 0);
    expect([...cache.items.keys()].sort()).toEqual([taskId("j", "h3"), taskId("j", "h4")]);
    expect(cache.done.size).toBe(2);
    expect(all(cache)).toEqual([doneItem("h1"), doneItem("h2"), failed, withData]);
  });

  it("moves tasks in and out of the done set as changes apply, and keeps the codes over the tree exact", () => {
    const cache = taskCacheOf([doneItem("h1")], 7, 0);
    const codesOf = () => [...(cache.done.codesFor(tree).get("j") ?? new Uint8Array(tree.size))];
    const at = (node: string) => tree.indexOf.get(node)!;
    expect(codesOf()[at("h1")]).toBe(TASK_DONE);
    // h1 is forgiven (no longer done), h2 starts and finishes done.
    applyToCache(cache, {
      kind: "replace",
      job: "j",
      node: "h1",
      version: 3,
      state: "failed",
      status: { ...done, bits: 16 },
    });
    applyToCache(cache, { kind: "start", job: "j", node: "h2", version: 1, running: running("r2.0") });
    expect(cache.done.size).toBe(0);
    applyToCache(cache, { kind: "finish", job: "j", node: "h2", attempt: "r2.0", state: "done", status: done });
    expect(cache.done.has("j", "h2")).toBe(true);
    expect(cache.items.has(taskId("j", "h2"))).toBe(false);
    const codes = codesOf();
    expect([codes[at("h1")], codes[at("h2")], codes[at("h3")]]).toEqual([0, TASK_DONE, 0]);
    // The same change again is a no-op; the held item equals what the writes made.
    applyToCache(cache, { kind: "finish", job: "j", node: "h2", attempt: "r2.0", state: "done", status: done });
    expect(cache.done.get("j", "h2")).toEqual({
      job: "j",
      node: "h2",
      state: "done",
      version: 2,
      status: done,
      lastAttempt: "r2.0",
    });
    // A new tree (a node refresh) rebuilds the codes from the names.
    const moved = makeTree(["host"], { h2: [], h9: [] });
    expect([...(cache.done.codesFor(moved).get("j") ?? [])][moved.indexOf.get("h2")!]).toBe(TASK_DONE);
  });

  it("gives back attempt ids and token hashes of any shape exactly", () => {
    const shaped = [
      { lastAttempt: "r12.3", lastTokenHash: hashSecret("token") },
      { lastAttempt: "r01.2", lastTokenHash: `${hashSecret("token")}=` },
      { lastAttempt: "r1.2.3", lastTokenHash: "short" },
      { lastAttempt: "r4294967296.0" },
      {},
    ];
    const items = shaped.map((fields, i): TaskItem => {
      const { lastAttempt: _a, lastTokenHash: _h, ...base } = doneItem(`h${i}`);
      return { ...base, ...fields };
    });
    const cache = taskCacheOf(items, 7, 0);
    expect(cache.done.size).toBe(items.length);
    expect(all(cache)).toEqual(items);
  });

  it("gives a done task to the walked items when a round must see it whole", () => {
    const cache = taskCacheOf([doneItem("h1"), doneItem("h2")], 7, 0);
    expect(
      promoteDone(cache, [
        { job: "j", node: "h2" },
        { job: "j", node: "h3" },
      ]),
    ).toEqual([doneItem("h2")]);
    expect(cache.done.has("j", "h2")).toBe(false);
    expect(cache.items.get(taskId("j", "h2"))).toEqual(doneItem("h2"));
  });
});

describe("a retired job (not configured) in the warm state", () => {
  it("holds only its running tasks: one that ends is dropped, a late change to a dropped one adds nothing", () => {
    const runningItem: TaskItem = { job: "old", node: "n1", state: "running", version: 1, running: running("r1.0") };
    const cache = taskCacheOf([runningItem], 7, 0, ["old"]);
    applyToCache(cache, {
      kind: "finish",
      job: "old",
      node: "n1",
      attempt: "r1.0",
      state: "done",
      status: done,
      tokenHash: "hash-r1.0",
    });
    expect(cache.items.size).toBe(0);
    expect(cache.done.size).toBe(0);
    applyToCache(cache, { kind: "put", item: { job: "old", node: "n2", state: "failed", version: 4, status: done } });
    expect(cache.items.size).toBe(0);
    // A configured job's changes are held as before.
    applyToCache(cache, { kind: "put", item: { job: "new", node: "n2", state: "done", version: 4, status: done } });
    expect(cache.done.has("new", "n2")).toBe(true);
  });
});
