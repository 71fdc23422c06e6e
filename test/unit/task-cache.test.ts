// Change entries applied to a warm state (ADR 0003 step 2): each change does what its write did to
// the stored item, once; applying a change again, or one the held item already contains, is a no-op.
import { StatusValues } from "../../lib/model/status";
import { taskId } from "../../lib/model/task";
import { applyChange } from "../../lib/round/task-cache";
import type { TaskChange, TaskItem } from "../../lib/store/tasks";

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
