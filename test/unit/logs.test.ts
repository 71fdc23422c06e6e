// Pure parts of task logs: line ids, the segment format, key escaping and query validation.
import fc from "fast-check";

import { dayBucket, dayBuckets, escapeKeyPart, firstIdSkRange, logTaskSk, segmentObjectKey } from "../../lib/logs/keys";
import {
  COUNTER_LIMIT,
  formatLineId,
  LineIdGenerator,
  lineIdFromTime,
  lineIdFromParts,
  lineIdTimeSec,
  MAX_LINE_ID,
  padLineId,
  parseLineId,
  SALT_BITS,
} from "../../lib/logs/line-id";
import { LogQueryError, parseLogQuery } from "../../lib/logs/reader";
import { LOG_STREAMS, parseSegmentText, SegmentBuilder, type LogStream } from "../../lib/logs/segment";
import { timeBytes } from "../../lib/logs/segment-rows";

const T0_MS = Date.UTC(2026, 10, 23, 12, 0, 0);

describe("line ids", () => {
  test("keep Bistro's shape: the time is id >> 32", () => {
    const ids = new LineIdGenerator(5);
    const id = ids.next(T0_MS + 1234);
    expect(lineIdTimeSec(id)).toBe(Math.floor((T0_MS + 1234) / 1000));
    expect(Number(id & ((1n << BigInt(SALT_BITS)) - 1n))).toBe(5);
  });

  test("strictly increase for any sequence of clock readings, and never run behind the clock", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4095 }),
        fc.array(fc.integer({ min: -5000, max: 5000 }), { maxLength: 200 }),
        (salt, steps) => {
          const ids = new LineIdGenerator(salt);
          let now = T0_MS;
          let previous = -1n;
          let latestSec = 0;
          for (const step of steps) {
            now += step;
            const id = ids.next(now);
            expect(id > previous).toBe(true);
            latestSec = Math.max(latestSec, Math.floor(now / 1000));
            expect(lineIdTimeSec(id)).toBeGreaterThanOrEqual(latestSec);
            previous = id;
          }
        },
      ),
    );
  });

  test("borrow the next second after 2^20 lines in one second instead of repeating", () => {
    const ids = new LineIdGenerator(1);
    let last = 0n;
    for (let i = 0; i < COUNTER_LIMIT; i++) last = ids.next(T0_MS);
    expect(lineIdTimeSec(last)).toBe(T0_MS / 1000);
    const borrowed = ids.next(T0_MS);
    expect(borrowed > last).toBe(true);
    expect(lineIdTimeSec(borrowed)).toBe(T0_MS / 1000 + 1);
  });

  test("writers with different salts never share an id", () => {
    const a = new LineIdGenerator(1);
    const b = new LineIdGenerator(2);
    const seen = new Set<bigint>();
    for (let i = 0; i < 1000; i++) {
      for (const id of [a.next(T0_MS + i), b.next(T0_MS + i)]) {
        expect(seen.has(id)).toBe(false);
        seen.add(id);
      }
    }
  });

  test("time bounds are Bistro's: time<<32 ascending, time<<32 | 0xffffffff descending", () => {
    expect(lineIdFromTime(7, true)).toBe(7n << 32n);
    expect(lineIdFromTime(7, false)).toBe((7n << 32n) | 0xffffffffn);
  });

  test("round-trip as decimal strings and sort as padded strings", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: MAX_LINE_ID }), fc.bigInt({ min: 0n, max: MAX_LINE_ID }), (a, b) => {
        expect(parseLineId(formatLineId(a))).toBe(a);
        expect(padLineId(a) < padLineId(b)).toBe(a < b);
      }),
    );
    expect(parseLineId("-1")).toBe(-1n);
    expect(parseLineId("12x")).toBeUndefined();
    expect(parseLineId("99999999999999999999")).toBeUndefined();
  });
});

describe("keys", () => {
  test("a segment goes in its owner's folder; an IAM user id is kept as IAM writes it", () => {
    // The worker policy allows `task-logs/${aws:userid}/*`: the folder must be the id unchanged.
    expect(segmentObjectKey("task-logs/", "AROAEXAMPLE:ecs_task-1@a=b,c+d.e", "s1")).toBe(
      "task-logs/AROAEXAMPLE:ecs_task-1@a=b,c+d.e/s1.jsonl",
    );
    expect(segmentObjectKey("task-logs/", "AIDAEXAMPLE", "s1")).toBe("task-logs/AIDAEXAMPLE/s1.jsonl");
    // Worker ids (local, no IAM) lose characters that would make other folders or odd keys.
    expect(segmentObjectKey("task-logs/", "../w 1/x", "s1")).toBe("task-logs/.._w_1_x/s1.jsonl");
    expect(segmentObjectKey("task-logs/", "", "s1")).toBe("task-logs/_/s1.jsonl");
  });

  test("an escaped node name never contains '#', so '<node>#' is an exact prefix", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        expect(escapeKeyPart(a)).not.toContain("#");
        if (a !== b) expect(escapeKeyPart(a)).not.toBe(escapeKeyPart(b));
      }),
    );
  });

  test("a node's sort-key range holds exactly that node's entries", () => {
    const [low, high] = firstIdSkRange(10n, 20n, "a");
    const inside = (sk: string) => sk >= low && sk <= high;
    expect(inside(logTaskSk("a", 10n, "seg-1"))).toBe(true);
    expect(inside(logTaskSk("a", 20n, "zzz"))).toBe(true);
    expect(inside(logTaskSk("a", 21n, "seg"))).toBe(false);
    expect(inside(logTaskSk("a#0", 15n, "seg"))).toBe(false);
    expect(inside(logTaskSk("a", 9n, "seg"))).toBe(false);
  });

  test("day buckets are UTC days, walked in either direction", () => {
    const midnight = Date.UTC(2026, 0, 2) / 1000;
    expect(dayBucket(midnight - 1)).toBe("2026-01-01");
    expect(dayBucket(midnight)).toBe("2026-01-02");
    const days = (from: number, to: number, ascending: boolean) => dayBuckets(from, to, ascending).map((d) => d.day);
    expect(days(midnight - 1, midnight + 86400, true)).toEqual(["2026-01-01", "2026-01-02", "2026-01-03"]);
    expect(days(midnight - 1, midnight, false)).toEqual(["2026-01-02", "2026-01-01"]);
    expect(dayBuckets(midnight + 5, midnight + 6, true)).toEqual([{ day: "2026-01-02", startSec: midnight }]);
  });
});

describe("segments", () => {
  const lineArb = fc
    .record({
      job: fc.constantFrom("j1", "j2", "j#3"),
      node: fc.constantFrom("n1", "n2", "ü"),
      attempt: fc.constantFrom("a1", "a2"),
      stream: fc.constantFrom<LogStream>(...LOG_STREAMS),
      text: fc.string({ unit: "binary" }),
    })
    .map((line) => ({ ...line, token: `tok:${line.job}:${line.node}:${line.attempt}` }));

  test("every recorded range parses back to exactly its lines, in id order", () => {
    fc.assert(
      fc.property(fc.array(lineArb, { minLength: 1, maxLength: 60 }), (input) => {
        const builder = new SegmentBuilder();
        const ids = new LineIdGenerator(3);
        const added = input.map((line, i) => {
          const id = ids.next(T0_MS + i);
          builder.add(line, line.stream, id, T0_MS + i, line.text);
          return { ...line, id, timeMs: T0_MS + i };
        });
        const built = builder.build();
        expect(built.body.length).toBe(builder.bytes);
        const slice = (range: { offset: number; length: number }) =>
          parseSegmentText(built.body.subarray(range.offset, range.offset + range.length).toString("utf8"));
        const ordered = (pred: (l: (typeof added)[number]) => boolean) =>
          added.filter(pred).sort((a, b) => (a.id < b.id ? -1 : 1));
        const strip = (
          lines: {
            id: bigint;
            text: string;
            job: string;
            node: string;
            attempt: string;
            stream: string;
            token?: string;
          }[],
        ) =>
          lines.map(({ id, text, job, node, attempt, stream, token }) => ({
            id,
            text,
            job,
            node,
            attempt,
            stream,
            token,
          }));

        for (const stream of LOG_STREAMS) {
          const section = built.sections[stream];
          const expected = ordered((l) => l.stream === stream);
          if (section === undefined) {
            expect(expected).toHaveLength(0);
            continue;
          }
          expect(section.lines).toBe(expected.length);
          expect(strip(slice(section)).sort((a, b) => (a.id < b.id ? -1 : 1))).toEqual(strip(expected));
        }
        for (const { job, ranges } of built.jobs) {
          for (const stream of LOG_STREAMS) {
            const range = ranges[stream];
            const expected = ordered((l) => l.job === job && l.stream === stream);
            if (range === undefined) expect(expected).toHaveLength(0);
            else expect(strip(slice(range)).sort((a, b) => (a.id < b.id ? -1 : 1))).toEqual(strip(expected));
          }
        }
        for (const { task, ranges } of built.tasks) {
          for (const stream of LOG_STREAMS) {
            const range = ranges[stream];
            const expected = ordered(
              (l) => l.job === task.job && l.node === task.node && l.attempt === task.attempt && l.stream === stream,
            );
            if (range === undefined) {
              expect(expected).toHaveLength(0);
              continue;
            }
            // A task's lines of one stream are one group: already in id order, first/last ids exact.
            expect(strip(slice(range))).toEqual(strip(expected));
            expect(range.firstId).toBe(expected[0]!.id);
            expect(range.lastId).toBe(expected[expected.length - 1]!.id);
          }
        }
      }),
    );
  });

  test("lines given as bytes are stored exactly as their decoded text would be (property)", () => {
    // Bytes that exercise every path: JSON escapes, quotes, valid and invalid UTF-8, long runs.
    const byteArb = fc.oneof(
      fc.integer({ min: 0, max: 255 }),
      fc.constantFrom(0x22, 0x5c, 0x09, 0x00, 0x1f, 0x7f, 0x78),
      fc.constantFrom(0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80, 0xed, 0xa0),
    );
    const textArb = fc.oneof(
      { arbitrary: fc.array(byteArb, { maxLength: 40 }).map((bytes) => Buffer.from(bytes)), weight: 5 },
      { arbitrary: fc.string({ unit: "binary", maxLength: 40 }).map((text) => Buffer.from(text, "utf8")), weight: 5 },
      // Longer than a chunk of the builder, so rows span chunks.
      { arbitrary: fc.integer({ min: 100, max: 70_000 }).map((n) => Buffer.alloc(n, "é\t\u0001")), weight: 1 },
    );
    const idArb = fc.record({
      sec: fc.oneof(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.constant(T0_MS / 1000)),
      low: fc.oneof(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.constantFrom(0, 2 ** 32 - 1)),
    });
    const lineArb = fc.record({ text: textArb, id: idArb, stream: fc.constantFrom<LogStream>(...LOG_STREAMS) });
    fc.assert(
      fc.property(fc.array(lineArb, { minLength: 1, maxLength: 30 }), fc.double({ noNaN: true }), (lines, timeMs) => {
        const task = { job: "j", node: "n", attempt: "a", token: "t" };
        const asText = new SegmentBuilder();
        const asBytes = new SegmentBuilder();
        // Several lines in one buffer, as a read of a pipe gives them.
        const data = Buffer.concat(lines.flatMap(({ text }) => [Buffer.from("\n"), text]));
        let offset = 0;
        for (const { text, id, stream } of lines) {
          const start = offset + 1;
          offset = start + text.length;
          const lineId = lineIdFromParts(id.sec, id.low);
          const textBytes = asText.add(task, stream, lineId, timeMs, text.toString("utf8"));
          const rawBytes = asBytes.addBytes(task, stream, id.sec, id.low, timeBytes(timeMs), data, start, offset);
          expect(rawBytes).toBe(textBytes);
        }
        const expected = asText.build();
        const built = asBytes.build();
        expect(built.body.equals(expected.body)).toBe(true);
        expect({ ...built, body: undefined }).toEqual({ ...expected, body: undefined });
      }),
      { numRuns: 200 },
    );
  });
});

describe("log queries", () => {
  test("apply Bistro's defaults and bounds", () => {
    const q = parseLogQuery({ logType: "stdout" });
    expect(q.ascending).toBe(false);
    expect(q.bound).toBe(MAX_LINE_ID);
    expect(q.limit).toBe(1000);
    expect(parseLogQuery({ logType: "stderr", sort: "ASC" }).bound).toBe(0n);
    expect(parseLogQuery({ logType: "stderr", sort: "asc", time: 100 }).bound).toBe(100n << 32n);
    expect(parseLogQuery({ logType: "stderr", time: 100 }).bound).toBe((100n << 32n) | 0xffffffffn);
    expect(parseLogQuery({ logType: "statuses", lineId: "-1", sort: "asc" }).bound).toBe(0n);
    expect(parseLogQuery({ logType: "statuses", lineId: "42" }).bound).toBe(42n);
    expect(parseLogQuery({ logType: "stdout", jobs: [], nodes: ["n"] }).jobs).toBeUndefined();
  });

  test.each([
    [{ logType: "nope" }, "Unknown table for logs: nope"],
    [{ logType: "stdout", time: 1, lineId: "5" }, "Cannot specify both time and line_id"],
    [{ logType: "stdout", sort: "up" }, "Unknown sort order: up"],
    [{ logType: "stdout", lineId: "abc" }, "Invalid line_id: abc"],
    [{ logType: "stdout", limit: 0 }, "limit must be an integer from 1 to 10000"],
  ])("refuse %j with %s", (query, message) => {
    expect(() => parseLogQuery(query)).toThrow(new LogQueryError(message));
  });

  test("refuse an invalid regex with a LogQueryError", () => {
    expect(() => parseLogQuery({ logType: "stdout", regexFilter: "(" })).toThrow(LogQueryError);
  });
});
