// Task logs end to end on the emulators: LogWriter segments + index on fauxqs S3 and DynamoDB
// Local, read back with readLogs (Bistro's task_logs semantics).
import { CreateBucketCommand, DeleteObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";

import type { AwsClients } from "../../lib/aws";
import { LOG_JOB_INDEX_PREFIX, LOG_TASK_INDEX_PREFIX, LOG_TIME_INDEX_PREFIX } from "../../lib/logs/keys";
import { parseLineId } from "../../lib/logs/line-id";
import { USER_REGEX_ENGINE } from "../../lib/config/regex";
import {
  LogQueryError,
  parseLogQuery,
  readLogs,
  type LogLineRow,
  type LogQuery,
  type LogReaderDeps,
} from "../../lib/logs/reader";
import type { LogStream } from "../../lib/logs/segment";
import { LineSplitter } from "../../lib/worker/output-lines";
import {
  LogWriter,
  LogWriterClosedError,
  truncationMarker,
  type LogLineInput,
  type LogWriterDeps,
  type LogWriterOptions,
} from "../../lib/logs/writer";
import { ensureTable } from "../../lib/store/table";
import { attemptTokens } from "../../lib/dispatch/tokens";
import { emulatorClients, uniqueName } from "../helpers/aws";
import { FakeClock } from "../helpers/fake-clock";
import { ScanCommand } from "@aws-sdk/lib-dynamodb";

/** Counts (and can hold back) the S3 commands one client sends. */
function instrument(s3: S3Client) {
  const counts = { puts: 0, gets: 0 };
  let gate: Promise<void> | undefined;
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "PutObjectCommand") {
        if (gate) await gate;
        counts.puts += 1;
      }
      if (context.commandName === "GetObjectCommand") counts.gets += 1;
      return next(args);
    },
    { step: "initialize", name: "countForTest" },
  );
  return {
    counts,
    hold(): () => void {
      let release = () => {};
      gate = new Promise((resolve) => (release = resolve));
      return () => {
        gate = undefined;
        release();
      };
    },
  };
}

function seededRng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const T0_MS = Date.UTC(2026, 10, 23, 23, 58, 20); // 100 s before midnight UTC: day partitions change mid-test

let aws: AwsClients;
let s3Counts: ReturnType<typeof instrument>;
let bucket: string;
let tableName: string;
let clock: FakeClock;
let writers: LogWriter[];

beforeEach(async () => {
  aws = emulatorClients();
  s3Counts = instrument(aws.s3);
  bucket = uniqueName("sous-logs");
  tableName = uniqueName("sous-logs");
  await aws.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await ensureTable(aws.dynamodb, tableName);
  clock = new FakeClock(T0_MS);
  writers = [];
});
afterEach(async () => {
  await Promise.allSettled(writers.map((w) => w.close()));
  aws.destroy();
});

/** The test deployment's attempt tokens: what a worker's start orders would carry. */
const TEST_TOKENS = attemptTokens(Buffer.alloc(32, 7));

/** A writer whose lines carry their attempt's genuine token unless a test gives one. */
class TokenFillingWriter extends LogWriter {
  override append(line: Omit<LogLineInput, "token"> & { token?: string }): Promise<void> | undefined {
    return super.append({ ...line, token: line.token ?? TEST_TOKENS(line) });
  }
}

function writer(
  workerId: string,
  options: LogWriterOptions = {},
  seed = workerId.length,
  extraDeps: Partial<LogWriterDeps> = {},
): TokenFillingWriter {
  const w = new TokenFillingWriter(
    { s3: aws.s3, doc: aws.doc, tableName, bucket, workerId, clock, rng: seededRng(seed), ...extraDeps },
    options,
  );
  writers.push(w);
  return w;
}

function reader(extra: Partial<LogReaderDeps> = {}): LogReaderDeps {
  return {
    s3: aws.s3,
    doc: aws.doc,
    tableName,
    bucket,
    attemptTokens: () => Promise.resolve(TEST_TOKENS),
    now: () => clock.now(),
    ...extra,
  };
}

/** Every page until next_line_id is -1; asserts that the cursor always moves. */
async function readAll(query: LogQuery, deps = reader()): Promise<{ rows: LogLineRow[]; pages: number }> {
  const { time: _time, lineId: _lineId, ...rest } = query;
  const rows: LogLineRow[] = [];
  let page = await readLogs(deps, query);
  for (let pages = 1; pages < 10_000; pages++) {
    rows.push(...page.lines);
    if (page.nextLineId === "-1") return { rows, pages };
    const lineId = page.nextLineId;
    page = await readLogs(deps, { ...rest, lineId });
    expect(page.nextLineId).not.toBe(lineId);
  }
  throw new Error("paging did not end");
}

const texts = (rows: LogLineRow[]) => rows.map((r) => r[3]);

function expectOrdered(rows: LogLineRow[], ascending: boolean): void {
  for (let i = 1; i < rows.length; i++) {
    const a = parseLineId(rows[i - 1]![4])!;
    const b = parseLineId(rows[i]![4])!;
    expect(ascending ? a <= b : a >= b).toBe(true);
  }
}

interface Appended extends Omit<LogLineInput, "token"> {
  worker: number;
}

describe("LogWriter + readLogs", () => {
  test("lines of many tasks round-trip in order, each in its stream, with Bistro's row shape", async () => {
    const w = writer("w1");
    const tasks = Array.from({ length: 40 }, (_, i) => ({ job: `job${i % 4}`, node: `node${i}`, attempt: `a${i}` }));
    const script: [LogStream, string][] = [
      ["statuses", "running"],
      ["stdout", "out 1"],
      ["stderr", "err 1"],
      ["stdout", "out 2"],
      ["stderr", "err 2"],
      ["stdout", "out 3"],
      ["statuses", "done"],
    ];
    const appended: Appended[] = [];
    for (const [stream, text] of script) {
      for (const task of tasks) {
        const line = { ...task, stream, text: `${text} ${task.job}/${task.node}`, timeMs: clock.now() };
        await w.append(line);
        appended.push({ ...line, worker: 0 });
        clock.advance(50); // 280 lines × 50 ms: several segments by time, each task spread over them
      }
    }
    await w.flush();
    expect(w.stats().segmentsWritten).toBeGreaterThan(2);

    for (const task of tasks.slice(0, 8)) {
      for (const stream of ["stdout", "stderr", "statuses"] as const) {
        const expected = appended.filter((l) => l.node === task.node && l.stream === stream);
        const { rows } = await readAll({ logType: stream, jobs: [task.job], nodes: [task.node], sort: "asc" });
        expect(texts(rows)).toEqual(expected.map((l) => l.text));
        expect(rows.map((r) => [r[0], r[1], r[2]])).toEqual(
          expected.map((l) => [l.job, l.node, Math.floor(l.timeMs / 1000)]),
        );
      }
    }
    const all = await readAll({ logType: "stdout", sort: "asc" });
    expect(texts(all.rows)).toEqual(appended.filter((l) => l.stream === "stdout").map((l) => l.text));
    const newestFirst = await readLogs(reader(), { logType: "stderr", limit: 5 });
    expect(texts(newestFirst.lines)).toEqual(
      appended
        .filter((l) => l.stream === "stderr")
        .map((l) => l.text)
        .reverse()
        .slice(0, 5),
    );
  });

  describe("with three workers writing at once", () => {
    let appended: Appended[];
    beforeEach(async () => {
      const rng = seededRng(7);
      const ws = [writer("wa", {}, 1), writer("wb", {}, 2), writer("wc", { flushIntervalMs: 2000 }, 3)];
      appended = [];
      for (let i = 0; i < 300; i++) {
        const worker = Math.floor(rng() * 3);
        const job = `job${Math.floor(rng() * 3)}`;
        const node = `n${Math.floor(rng() * 5)}`;
        const stream: LogStream = rng() < 0.7 ? "stdout" : "stderr";
        const line = { job, node, attempt: `${job}-${node}`, stream, text: `line ${i}`, timeMs: clock.now() };
        await ws[worker]!.append(line);
        appended.push({ ...line, worker });
        clock.advance(Math.floor(rng() * 200)); // many lines of different workers share a second
      }
      await Promise.all(ws.map((w) => w.flush()));
    });

    const cases: [string, Pick<LogQuery, "jobs" | "nodes">, (l: Appended) => boolean][] = [
      ["all jobs", {}, () => true],
      ["one job", { jobs: ["job1"] }, (l) => l.job === "job1"],
      [
        "two jobs on two nodes",
        { jobs: ["job0", "job2"], nodes: ["n1", "n3"] },
        (l) => l.job !== "job1" && ["n1", "n3"].includes(l.node),
      ],
      ["one node of all jobs", { nodes: ["n4"] }, (l) => l.node === "n4"],
      ["one task", { jobs: ["job2"], nodes: ["n0"] }, (l) => l.job === "job2" && l.node === "n0"],
    ];

    test.each(cases)("paging forward and backward reaches every line exactly once: %s", async (_, filter, keep) => {
      const expected = appended.filter((l) => l.stream === "stdout" && keep(l)).map((l) => l.text);
      expect(expected.length).toBeGreaterThan(10);
      for (const sort of ["asc", "desc"] as const) {
        const { rows, pages } = await readAll({ logType: "stdout", ...filter, sort, limit: 7 });
        expect(pages).toBeGreaterThan(1);
        expect(texts(rows).sort()).toEqual([...expected].sort());
        expectOrdered(rows, sort === "asc");
        expect(new Set(rows.map((r) => r[4])).size).toBe(rows.length); // ids unique across workers
      }
    });

    test("toggling sort at a cursor returns the previous page (bounds are inclusive)", async () => {
      const first = await readLogs(reader(), { logType: "stdout", sort: "asc", limit: 10 });
      const second = await readLogs(reader(), { logType: "stdout", sort: "asc", limit: 10, lineId: first.nextLineId });
      const back = await readLogs(reader(), {
        logType: "stdout",
        sort: "desc",
        limit: 11,
        lineId: second.lines[0]![4],
      });
      expect(back.lines.map((r) => r[4])).toEqual([second.lines[0]![4], ...first.lines.map((r) => r[4]).reverse()]);
      expect(back.nextLineId).toBe("-1");
    });

    test("a regex filter searches lines, pages stay complete, and scan limits only shorten pages", async () => {
      const expected = appended.filter((l) => l.stream === "stderr" && /7/.test(l.text)).map((l) => l.text);
      for (const deps of [reader(), reader({ maxScanBytes: 1, readConcurrency: 1 })]) {
        const { rows } = await readAll({ logType: "stderr", regexFilter: "7", sort: "asc", limit: 4 }, deps);
        expect(texts(rows).sort()).toEqual(expected.sort());
        expectOrdered(rows, true);
      }
    });
  });

  test("time bounds are inclusive seconds, across a day boundary and across segments", async () => {
    const w = writer("w1");
    const times: number[] = [];
    for (let i = 0; i < 10; i++) {
      times.push(clock.now());
      await w.append({ job: "j", node: "n", attempt: "a", stream: "stdout", text: `t${i}`, timeMs: clock.now() });
      clock.advance(20_000); // each line ends up in its own segment (5 s flush)
    }
    await w.uploadsSettled();
    const sec = (i: number) => Math.floor(times[i]! / 1000);
    for (const filter of [{}, { jobs: ["j"] }, { jobs: ["j"], nodes: ["n"] }]) {
      const asc = await readAll({ logType: "stdout", ...filter, sort: "asc", time: sec(3) });
      expect(texts(asc.rows)).toEqual(["t3", "t4", "t5", "t6", "t7", "t8", "t9"]);
      const desc = await readAll({ logType: "stdout", ...filter, sort: "desc", time: sec(6) });
      expect(texts(desc.rows)).toEqual(["t6", "t5", "t4", "t3", "t2", "t1", "t0"]);
      const between = await readLogs(reader(), {
        logType: "stdout",
        ...filter,
        sort: "asc",
        time: sec(2) + 1,
        limit: 2,
      });
      expect(texts(between.lines)).toEqual(["t3", "t4"]);
      const future = await readLogs(reader(), { logType: "stdout", ...filter, sort: "asc", time: sec(9) + 1 });
      expect(future).toEqual({ nextLineId: "-1", lines: [] });
    }
  });

  test("jobs/nodes/attempt filters, and Bistro's errors", async () => {
    const w = writer("w1");
    for (const [job, node, attempt] of [
      ["a", "x", "1"],
      ["a", "y", "1"],
      ["b", "x", "1"],
      ["a", "x", "2"],
    ] as const) {
      await w.append({ job, node, attempt, stream: "stdout", text: `${job}${node}${attempt}`, timeMs: clock.now() });
      clock.advance(10);
    }
    await w.flush();
    const read = async (q: Omit<LogQuery, "logType">) =>
      texts((await readAll({ logType: "stdout", sort: "asc", ...q })).rows);
    expect(await read({ jobs: ["a"] })).toEqual(["ax1", "ay1", "ax2"]);
    expect(await read({ nodes: ["x"] })).toEqual(["ax1", "bx1", "ax2"]);
    expect(await read({ jobs: ["a", "b"], nodes: ["x"] })).toEqual(["ax1", "bx1", "ax2"]);
    expect(await read({ jobs: ["a"], nodes: ["x"], attempt: "2" })).toEqual(["ax2"]);
    expect(await read({ attempt: "1" })).toEqual(["ax1", "ay1", "bx1"]);
    expect(await read({ jobs: ["nope"] })).toEqual([]);
    expect((await readAll({ logType: "stderr", jobs: ["a"], nodes: ["x"] })).rows).toEqual([]);
    await expect(readLogs(reader(), { logType: "stdin" })).rejects.toThrow(
      new LogQueryError("Unknown table for logs: stdin"),
    );
    await expect(readLogs(reader(), { logType: "stdout", time: 5, lineId: "7" })).rejects.toThrow(
      new LogQueryError("Cannot specify both time and line_id"),
    );
  });

  test("a task stream over its cap ends with one truncation marker; later lines are dropped and counted", async () => {
    const w = writer("w1", { maxTaskStreamBytes: 100 });
    const task = { job: "j", node: "n", attempt: "a" };
    for (let i = 0; i < 20; i++) {
      await w.append({ ...task, stream: "stdout", text: `line ${String(i).padStart(4, "0")}!`, timeMs: clock.now() });
      await w.append({ ...task, stream: "stderr", text: `e${i}`, timeMs: clock.now() });
      await w.append({ ...task, node: "other", stream: "stdout", text: `o${i}`, timeMs: clock.now() });
    }
    await w.flush();
    const stdout = texts((await readAll({ logType: "stdout", jobs: ["j"], nodes: ["n"], sort: "asc" })).rows);
    expect(stdout.slice(0, -1)).toEqual(Array.from({ length: 10 }, (_, i) => `line ${String(i).padStart(4, "0")}!`));
    expect(stdout[stdout.length - 1]).toBe(truncationMarker(100));
    expect(w.stats()).toMatchObject({ droppedLines: 10, truncatedStreams: 1 });
    expect((await readAll({ logType: "stderr", jobs: ["j"], nodes: ["n"] })).rows).toHaveLength(20);
    expect((await readAll({ logType: "stdout", jobs: ["j"], nodes: ["other"] })).rows).toHaveLength(20);
  });

  test("a pipe read given as bytes (appendLines) reads back as its decoded lines; the cap cuts inside the read", async () => {
    const cap = 100;
    const w = writer("w1", { maxTaskStreamBytes: cap });
    const task = { job: "j", node: "n", attempt: "a" };
    const raw = [
      Buffer.from("plain"),
      Buffer.from('quote " backslash \\ tab \t bell \u0007'),
      Buffer.from("ünïcödé ✓ 😀"),
      Buffer.concat([Buffer.from("bad "), Buffer.from([0xff, 0xc3]), Buffer.from(" bytes")]),
      Buffer.alloc(0),
      ...Array.from({ length: 20 }, (_, i) => Buffer.from(`line ${i}`)),
    ];
    const [read] = new LineSplitter().push(Buffer.concat(raw.flatMap((line) => [line, Buffer.from("\n")])));
    if (read === undefined) throw new Error("no lines");
    expect(read.bounds).toHaveLength(raw.length * 2);
    await w.appendLines({ ...task, token: TEST_TOKENS(task) }, "stdout", read, clock.now());
    await w.flush();

    // What the cap keeps: whole lines while their bytes fit, then the marker.
    const expected: string[] = [];
    let bytes = 0;
    for (const line of raw) {
      if (bytes + line.length > cap) {
        expected.push(truncationMarker(bytes));
        break;
      }
      bytes += line.length;
      expected.push(line.toString("utf8"));
    }
    expect(expected.length).toBeLessThan(raw.length); // the cap did cut
    const rows = (await readAll({ logType: "stdout", jobs: ["j"], nodes: ["n"], sort: "asc" })).rows;
    expect(texts(rows)).toEqual(expected);
    expect(w.stats()).toMatchObject({ droppedLines: raw.length - expected.length + 1, truncatedStreams: 1 });
  });

  test("1,000 short tasks cost at most 0.1 S3 PUT and 2 index writes per task", async () => {
    const w = writer("w1");
    const tasks = 1000;
    for (let t = 0; t < tasks; t++) {
      const task = { job: `job${t % 3}`, node: `node${t}`, attempt: `${t}` };
      for (const [stream, text] of [
        ["statuses", '{"event":"running"}'],
        ["stdout", `hello from ${t}`],
        ["stdout", "working"],
        ["stderr", "a warning"],
        ["statuses", '{"event":"got_status","status":"done"}'],
      ] as const) {
        await w.append({ ...task, stream, text, timeMs: clock.now() });
        clock.advance(10); // 1,000 tasks of 5 lines in 50 s
      }
      w.endTask(task);
    }
    await w.flush();
    const stats = w.stats();
    const putsPerTask = s3Counts.counts.puts / tasks;
    const indexWritesPerTask = stats.indexItems / tasks;
    expect(s3Counts.counts.puts).toBe(stats.s3Puts);
    expect(putsPerTask).toBeLessThanOrEqual(0.1);
    expect(indexWritesPerTask).toBeLessThanOrEqual(2);
    const items = await aws.doc.send(new ScanCommand({ TableName: tableName, Select: "COUNT" }));
    expect(items.Count).toBe(stats.indexItems);
    // Every index item is one of the documented kinds.
    const scan = await aws.doc.send(new ScanCommand({ TableName: tableName, ProjectionExpression: "pk" }));
    for (const item of scan.Items ?? []) {
      expect(String(item.pk)).toMatch(
        new RegExp(`^(${LOG_TASK_INDEX_PREFIX}|${LOG_JOB_INDEX_PREFIX}|${LOG_TIME_INDEX_PREFIX})`),
      );
    }
    const one = await readAll({ logType: "stdout", jobs: ["job1"], nodes: ["node700"], sort: "asc" });
    expect(texts(one.rows)).toEqual(["hello from 700", "working"]);
    console.log(
      `1,000 short tasks: ${s3Counts.counts.puts} S3 PUTs (${putsPerTask} per task), ` +
        `${stats.indexItems} index items (${indexWritesPerTask} per task), ${stats.segmentsWritten} segments`,
    );
  });

  test("append applies backpressure while the buffer is full, and memory stays bounded", async () => {
    const maxBufferBytes = 16 * 1024;
    const w = writer("w1", { segmentBytes: 4096, maxBufferBytes });
    const release = s3Counts.hold();
    const task = { job: "j", node: "n", attempt: "a" };
    const text = "x".repeat(100);
    const settled = async (p: Promise<void> | undefined) => {
      if (p === undefined) return true; // room: nothing to wait for
      let done = false;
      void p.then(() => (done = true));
      await new Promise((r) => setImmediate(r));
      return done;
    };
    let blocked: Promise<void> | undefined;
    let appendedLines = 0;
    for (let i = 0; i < 1000 && blocked === undefined; i++) {
      const p = w.append({ ...task, stream: "stdout", text, timeMs: clock.now() });
      appendedLines += 1;
      if (!(await settled(p))) blocked = p;
    }
    expect(blocked).toBeDefined();
    expect(w.stats().bufferedBytes).toBeGreaterThanOrEqual(maxBufferBytes);
    expect(w.stats().bufferedBytes).toBeLessThan(maxBufferBytes + 200);
    expect(await settled(blocked)).toBe(false); // still waiting: no PUT has finished
    release();
    await blocked;
    await w.flush();
    expect((await readAll({ logType: "stdout", jobs: ["j"], nodes: ["n"] })).rows).toHaveLength(appendedLines);

    // A producer that awaits each append (as the worker does) never holds more than the bound plus one line.
    let maxBuffered = 0;
    const big = "y".repeat(1000);
    for (let i = 0; i < 2000; i++) {
      await w.append({ ...task, attempt: "b", stream: "stdout", text: big, timeMs: clock.now() });
      maxBuffered = Math.max(maxBuffered, w.stats().bufferedBytes);
    }
    expect(maxBuffered).toBeLessThanOrEqual(maxBufferBytes + big.length + 100);
    await w.flush();
    expect(w.stats().segmentsDropped).toBe(0);
  });

  test("lines of a running task are readable after a time-based flush, without flush()", async () => {
    const w = writer("w1");
    const line = (text: string) => ({
      job: "j",
      node: "n",
      attempt: "a",
      stream: "stdout" as const,
      text,
      timeMs: clock.now(),
    });
    await w.append(line("first"));
    await w.append(line("second"));
    clock.advance(4999);
    await w.uploadsSettled();
    expect((await readLogs(reader(), { logType: "stdout", jobs: ["j"], nodes: ["n"] })).lines).toEqual([]);
    clock.advance(1);
    await w.uploadsSettled();
    expect(texts((await readAll({ logType: "stdout", jobs: ["j"], nodes: ["n"], sort: "asc" })).rows)).toEqual([
      "first",
      "second",
    ]);
    await w.append(line("third"));
    clock.advance(5000);
    await w.uploadsSettled();
    expect(texts((await readAll({ logType: "stdout", jobs: ["j"], nodes: ["n"], sort: "asc" })).rows)).toEqual([
      "first",
      "second",
      "third",
    ]);
  });

  test("lines under a token the attempt was not given are never shown, by any query", async () => {
    const genuine = writer("w1");
    const forger = writer("w2", {}, 99);
    const line = (text: string) => ({ job: "j", node: "n", attempt: "a", stream: "stdout" as const, text, timeMs: 0 });
    await genuine.append({ ...line("real"), timeMs: clock.now() });
    // Another worker knows the job, node and attempt id, but not the attempt's token.
    await forger.append({ ...line("forged: wrong token"), token: "x".repeat(43), timeMs: clock.now() });
    await forger.append({
      ...line("forged: no such attempt"),
      attempt: "b",
      token: TEST_TOKENS({ ...line(""), attempt: "c" }),
      timeMs: clock.now(),
    });
    await genuine.flush();
    await forger.flush();
    expect(forger.stats().segmentsWritten).toBe(1);
    for (const filter of [{}, { jobs: ["j"] }, { jobs: ["j"], nodes: ["n"] }]) {
      const { rows } = await readAll({ logType: "stdout", sort: "asc", ...filter });
      expect(texts(rows)).toEqual(["real"]);
    }
  });

  test("expired index items are not read, and a closed writer refuses lines", async () => {
    const w = writer("w1", { retentionDays: 1 });
    await w.append({ job: "j", node: "n", attempt: "a", stream: "stdout", text: "old", timeMs: clock.now() });
    await w.close();
    expect((await readLogs(reader(), { logType: "stdout" })).lines).toHaveLength(1);
    clock.advance(2 * 86400_000);
    for (const filter of [{}, { jobs: ["j"] }, { jobs: ["j"], nodes: ["n"] }]) {
      expect(await readLogs(reader({ retentionDays: 30 }), { logType: "stdout", ...filter })).toEqual({
        nextLineId: "-1",
        lines: [],
      });
    }
    await expect(
      w.append({ job: "j", node: "n", attempt: "a", stream: "stdout", text: "late", timeMs: 0 }),
    ).rejects.toThrow(LogWriterClosedError);
  });
  test("a failed PUT is retried; a segment that keeps failing is dropped, counted and reported", async () => {
    let failures = 1;
    aws.s3.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "PutObjectCommand" && failures > 0) {
          failures -= 1;
          throw new Error("injected PUT failure");
        }
        return next(args);
      },
      { step: "initialize", name: "failForTest" },
    );
    const errors: unknown[] = [];
    const w = writer("w1", { maxWriteAttempts: 2 }, 1, { onError: (error) => errors.push(error) });
    /** Retries wait on the writer's clock: move it until `promise` settles. */
    const settle = async (promise: Promise<void>) => {
      let done = false;
      void promise.finally(() => (done = true));
      while (!done) {
        await new Promise((r) => setTimeout(r, 10));
        clock.advance(1000);
      }
      await promise;
    };
    const line = (text: string) => ({
      job: "j",
      node: "n",
      attempt: "a",
      stream: "stdout" as const,
      text,
      timeMs: clock.now(),
    });
    await w.append(line("kept"));
    await settle(w.flush());
    expect(errors).toEqual([]);
    expect(texts((await readLogs(reader(), { logType: "stdout" })).lines)).toEqual(["kept"]);

    failures = 2;
    await w.append(line("lost"));
    await settle(w.flush());
    expect(w.stats()).toMatchObject({ segmentsDropped: 1, linesLost: 1, segmentsWritten: 1 });
    expect(errors).toHaveLength(1);
    expect(texts((await readLogs(reader(), { logType: "stdout" })).lines)).toEqual(["kept"]);

    // An object the lifecycle rule removed before its index item expired is skipped, not an error.
    const listed = await aws.s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    for (const object of listed.Contents ?? [])
      await aws.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: object.Key }));
    expect(await readLogs(reader(), { logType: "stdout", jobs: ["j"], nodes: ["n"] })).toEqual({
      nextLineId: "-1",
      lines: [],
    });
  });
});

describe("hostile queries stay cheap", () => {
  /** Counts the DynamoDB queries one client sends. */
  function countQueries(): { queries: number } {
    const counts = { queries: 0 };
    aws.doc.middlewareStack.add(
      (next, context) => (args) => {
        if (context.commandName === "QueryCommand") counts.queries += 1;
        return next(args);
      },
      { step: "initialize", name: "countQueriesForTest" },
    );
    return counts;
  }

  test("regex_filter (a+)+$ on a long line completes, through the linear-time engine", async () => {
    const w = writer("w1");
    const line = `${"a".repeat(5_000)}!`;
    await w.append({ job: "j", node: "n", attempt: "a", stream: "stdout", text: line, timeMs: clock.now() });
    await w.append({ job: "j", node: "n", attempt: "a", stream: "stdout", text: "aaa", timeMs: clock.now() });
    clock.advance(20_000);
    await w.uploadsSettled();
    // A backtracking engine needs about 2^5000 steps for the first line; RE2 needs one pass.
    const page = await readLogs(reader(), { logType: "stdout", regexFilter: "(a+)+$", sort: "asc" });
    expect(texts(page.lines)).toEqual(["aaa"]);
    expect(parseLogQuery({ logType: "stdout", regexFilter: "(a+)+$" }).regex).not.toBeInstanceOf(RegExp);
    expect(USER_REGEX_ENGINE).toBe("re2js");
    // RE2 syntax: back-references are refused with the engine's reason.
    expect(() => parseLogQuery({ logType: "stdout", regexFilter: "(a)\\1" })).toThrow(/Invalid regex_filter: .*\\1/);
  }, 120_000);

  test("a long job list reads a few index partitions, not one query per job", async () => {
    const w = writer("w1");
    await w.append({ job: "j7", node: "n", attempt: "a", stream: "stdout", text: "found", timeMs: clock.now() });
    await w.append({ job: "other", node: "n", attempt: "a", stream: "stdout", text: "skipped", timeMs: clock.now() });
    clock.advance(20_000);
    await w.uploadsSettled();
    const counts = countQueries();
    const jobs = Array.from({ length: 1_000 }, (_, i) => `j${i}`);
    const { rows } = await readAll({ logType: "stdout", jobs, sort: "asc" });
    expect(texts(rows)).toEqual(["found"]);
    // One query per day partition searched (retention plus a day), far below one per job.
    expect(counts.queries).toBeLessThan(100);
  });
});
