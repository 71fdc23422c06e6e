// Backpressure of lib/worker/task-process.ts: a task printing ~100 MB through a slow output sink must
// not grow the worker's memory with it. Its own file, so the measurement runs in a fresh Jest worker.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { sliceTexts } from "../../lib/logs/segment-rows";
import { runTask } from "../../lib/worker/task-process";

jest.setTimeout(180_000); // bounds a hang only; the shared machine may be slow

/** The stated bound: growth of RSS and of the V8 heap while the task runs. */
const MEMORY_BOUND_BYTES = 64 * 1024 * 1024;
const LINE_COUNT = 102_400;
const LINE_WIDTH = 999; // + "\n" = 1000 bytes a line: 102.4 MB in all

let dataDir: string;
beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), "sous-task-memory-"));
});
afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

it("streams ~100 MB of stdout through a slow sink with bounded memory, losing nothing", async () => {
  const before = process.memoryUsage();
  let peakRss = before.rss;
  let peakHeap = before.heapUsed;
  let lines = 0;
  let bytes = 0;
  let wrongLines = 0;

  // A slow buffered sink, like a log uploader: it holds the lines it is given and ships 50 of them a
  // millisecond (~50 MB/s, far below what `yes` writes). Its promise is pending while 50 or more
  // lines wait; a worker that ignored that would pile the whole output up in `waiting`.
  const waiting: string[] = [];
  const roomWaiters: (() => void)[] = [];
  let shipping: NodeJS.Timeout | undefined;
  const ship = () => {
    waiting.splice(0, 50);
    if (waiting.length < 50) for (const wake of roomWaiters.splice(0)) wake();
    shipping = waiting.length > 0 ? setTimeout(ship, 1) : undefined;
  };

  const handle = runTask({
    jobName: "big-output",
    nodeName: "node1",
    jobJson: "{}",
    jobCommand: [],
    workerCommand: join(__dirname, "..", "fixtures", "tasks", "many-lines.sh"),
    attempt: "a1",
    workerId: "w1",
    dataDir,
    baseEnv: { ...process.env, FIXTURE_LINES: String(LINE_COUNT), FIXTURE_WIDTH: String(LINE_WIDTH) },
    subprocess: { pollMs: 10, maxLogLinesPerPollInterval: 0, useCanaryPipe: true },
    onOutput: (stream, read) => {
      for (const text of sliceTexts(read)) {
        lines += 1;
        bytes += text.length + 1;
        if (stream !== "stdout" || text.length !== LINE_WIDTH) wrongLines += 1;
        if (lines % 512 === 0) {
          const now = process.memoryUsage();
          peakRss = Math.max(peakRss, now.rss);
          peakHeap = Math.max(peakHeap, now.heapUsed);
        }
        waiting.push(text);
      }
      shipping ??= setTimeout(ship, 1);
      return waiting.length < 50 ? undefined : new Promise<void>((resolve) => roomWaiters.push(resolve));
    },
  });
  const result = await handle.result;

  expect(result.rawStatus).toBe("done");
  expect(wrongLines).toBe(0);
  expect(lines).toBe(LINE_COUNT);
  expect(bytes).toBe(LINE_COUNT * (LINE_WIDTH + 1));
  const growth = { rssMB: (peakRss - before.rss) / 2 ** 20, heapMB: (peakHeap - before.heapUsed) / 2 ** 20 };
  console.log(`memory growth while streaming ${bytes / 1e6} MB: ${JSON.stringify(growth)}`);
  expect(peakRss - before.rss).toBeLessThan(MEMORY_BOUND_BYTES);
  expect(peakHeap - before.heapUsed).toBeLessThan(MEMORY_BOUND_BYTES);
});
