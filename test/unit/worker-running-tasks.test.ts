// The worker's attempt table (lib/worker/running-tasks.ts): which attempts run, which task runs
// which, the bounded memory of settled attempts, kills and waiting.
import type { StartMessage } from "../../lib/dispatch/messages";
import type { KillRequest } from "../../lib/model/config";
import { RunningTasks } from "../../lib/worker/running-tasks";
import type { TaskHandle } from "../../lib/worker/task-process";

function task(job: string, node: string, attempt: string) {
  const kills: KillRequest[] = [];
  let end!: () => void;
  const ended = new Promise<void>((resolve) => (end = resolve));
  const message = { job, node, attempt } as StartMessage;
  const handle = { kill: (request: KillRequest) => kills.push(request) } as unknown as TaskHandle;
  return { entry: { message, handle, ended }, kills, end };
}

it("tracks the attempt each task runs; an older attempt's end leaves a newer one in place", () => {
  const table = new RunningTasks();
  const a1 = task("j", "n", "a1");
  const a2 = task("j", "n", "a2");
  table.add(a1.entry);
  expect(table.attemptOf("j", "n")).toBe("a1");
  table.add(a2.entry); // the scheduler moved on: a2 replaces a1 as the task's attempt
  table.ended(a1.entry.message);
  expect(table.attemptOf("j", "n")).toBe("a2");
  expect(table.attempts()).toEqual(["a2"]);
  table.ended(a2.entry.message);
  expect(table.attemptOf("j", "n")).toBeUndefined();
  expect(table.size).toBe(0);
});

it("remembers ended and refused attempts, forgetting the oldest past its bound", () => {
  const table = new RunningTasks(2);
  const a = task("j", "n1", "a");
  table.add(a.entry);
  expect(table.knows("a")).toBe(true);
  expect(table.settledHere("a")).toBe(false);
  table.ended(a.entry.message);
  table.refused("b");
  expect([table.settledHere("a"), table.settledHere("b")]).toEqual([true, true]);
  table.refused("c");
  expect([table.knows("a"), table.knows("b"), table.knows("c")]).toEqual([false, true, true]);
});

it("kills each running task its own way and waits for their ends, or gives up after the wait", async () => {
  jest.useFakeTimers();
  try {
    const table = new RunningTasks();
    const x = task("j", "x", "x1");
    const y = task("j", "y", "y1");
    table.add(x.entry);
    table.add(y.entry);
    table.killEach((t) => ({ method: "term_wait_kill", killWaitMs: t.message.node === "x" ? 1 : 2 }));
    expect([x.kills, y.kills]).toEqual([
      [{ method: "term_wait_kill", killWaitMs: 1 }],
      [{ method: "term_wait_kill", killWaitMs: 2 }],
    ]);
    const timedOut = table.waitAll(1000);
    x.end();
    table.ended(x.entry.message);
    await jest.advanceTimersByTimeAsync(1000);
    expect(await timedOut).toBe(false); // y never ended
    const done = table.waitAll(1000);
    y.end();
    table.ended(y.entry.message);
    expect(await done).toBe(true);
    expect(await table.waitAll(0)).toBe(true);
  } finally {
    jest.useRealTimers();
  }
});
