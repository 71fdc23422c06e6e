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
import {
  LOG_STREAMS,
  parseSegmentText,
  SegmentBuilder,
  SegmentFormatError,
  type LogStream,
  type StreamRanges,
} from "../../lib/logs/segment";
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

  test("a run of ids is what as many single ids would be, and stops at the end of the second's counter", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 5 }), { maxLength: 20 }), (runs) => {
        const single = new LineIdGenerator(9);
        const batched = new LineIdGenerator(9);
        for (const [i, count] of runs.entries()) {
          const timeMs = T0_MS + i * 300;
          expect(batched.advanceRun(timeMs, count)).toBe(count);
          for (let k = 0; k < count; k++) {
            expect(lineIdFromParts(batched.sec, batched.low + k * (1 << SALT_BITS))).toBe(single.next(timeMs));
          }
        }
      }),
    );
    const ids = new LineIdGenerator(1);
    ids.advanceRun(T0_MS, COUNTER_LIMIT - 2);
    expect(ids.advanceRun(T0_MS, 5)).toBe(2);
    expect(lineIdTimeSec(ids.next(T0_MS))).toBe(T0_MS / 1000 + 1);
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
      "task-logs/AROAEXAMPLE:ecs_task-1@a=b,c+d.e/s1.seg",
    );
    expect(segmentObjectKey("task-logs/", "AIDAEXAMPLE", "s1")).toBe("task-logs/AIDAEXAMPLE/s1.seg");
    // Worker ids (local, no IAM) lose characters that would make other folders or odd keys.
    expect(segmentObjectKey("task-logs/", "../w 1/x", "s1")).toBe("task-logs/.._w_1_x/s1.seg");
    expect(segmentObjectKey("task-logs/", "", "s1")).toBe("task-logs/_/s1.seg");
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

  test("lines given as bytes read back as their decoded text, as lines given as strings do (property)", () => {
    // Bytes that exercise every path: JSON-looking text, quotes, control bytes, valid and invalid UTF-8.
    const byteArb = fc.oneof(
      fc.integer({ min: 0, max: 255 }).filter((b) => b !== 0x0a),
      fc.constantFrom(0x22, 0x5c, 0x09, 0x00, 0x0d, 0x1f, 0x7f, 0x78, 0x5b, 0x7b),
      fc.constantFrom(0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80, 0xed, 0xa0),
    );
    const textArb = fc.oneof(
      { arbitrary: fc.array(byteArb, { maxLength: 40 }).map((bytes) => Buffer.from(bytes)), weight: 5 },
      {
        arbitrary: fc
          .string({ unit: "binary", maxLength: 40 })
          .map((text) => Buffer.from(text.replace(/\n/g, ""), "utf8")),
        weight: 3,
      },
      // Text that looks like a group header or a row, and empty lines.
      {
        arbitrary: fc.constantFrom(
          '{"job":"x","node":"y","attempt":"z","stream":"stdout"}',
          '["1",2,"x"]',
          '["1",2,3,4]',
          "",
        ),
        weight: 2,
      },
      // Longer than a chunk of the builder, so runs span chunks.
      { arbitrary: fc.integer({ min: 100, max: 70_000 }).map((n) => Buffer.alloc(n, "é\t\u0001")), weight: 1 },
    );
    // A read: lines with their "\n", and whether its last line is unterminated (the end of a pipe).
    const readArb = fc.record({
      lines: fc.array(textArb, { minLength: 1, maxLength: 12 }),
      unterminated: fc.boolean(),
      stream: fc.constantFrom<LogStream>(...LOG_STREAMS),
    });
    fc.assert(
      fc.property(
        fc.array(readArb, { minLength: 1, maxLength: 8 }),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        (reads, timeMs) => {
          const task = { job: "j", node: "n", attempt: "a", token: "t" };
          const asText = new SegmentBuilder();
          const asBytes = new SegmentBuilder();
          const textIds = new LineIdGenerator(7);
          const byteIds = new LineIdGenerator(7);
          const nowMs = T0_MS + 1500;
          for (const { lines: texts, unterminated, stream } of reads) {
            const parts = texts.map((text) => (typeof text === "string" ? Buffer.from(text) : text));
            const data = Buffer.concat(
              parts.flatMap((part, i) => (unterminated && i === parts.length - 1 ? [part] : [part, Buffer.from("\n")])),
            );
            const bounds: number[] = [];
            let offset = 0;
            for (const part of parts) {
              bounds.push(offset, offset + part.length);
              offset += part.length + 1;
            }
            let textBytes = 0;
            for (const part of parts)
              textBytes += asText.add(task, stream, textIds.next(nowMs), timeMs, part.toString("utf8"));
            const taken = byteIds.advanceRun(nowMs, parts.length);
            expect(taken).toBe(parts.length);
            const step = 1 << SALT_BITS;
            const runBytes = asBytes.addRun(
              task,
              stream,
              byteIds.sec,
              byteIds.low,
              step,
              timeBytes(timeMs),
              { data, bounds },
              0,
              parts.length,
            );
            expect(runBytes).toBeGreaterThan(0);
            expect(textBytes).toBeGreaterThan(0);
          }
          const expected = asText.build();
          const built = asBytes.build();
          expect(built.body.length).toBe(asBytes.bytes);
          const parse = (body: Buffer) => parseSegmentText(body.toString("utf8"));
          expect(parse(built.body)).toEqual(parse(expected.body));
          const { body: _b, sections, jobs, tasks, ...rest } = built;
          const { body: _e, sections: eSections, jobs: eJobs, tasks: eTasks, ...eRest } = expected;
          expect(rest).toEqual(eRest);
          // Same ids and line counts per range (offsets differ: runs are smaller).
          const idsOf = (ranges: StreamRanges) =>
            Object.fromEntries(Object.entries(ranges).map(([stream, r]) => [stream, [r.firstId, r.lastId, r.lines]]));
          expect(idsOf(sections)).toEqual(idsOf(eSections));
          expect(jobs.map((j) => idsOf(j.ranges))).toEqual(eJobs.map((j) => idsOf(j.ranges)));
          expect(tasks.map((t) => idsOf(t.ranges))).toEqual(eTasks.map((t) => idsOf(t.ranges)));
          for (const { ranges } of tasks) {
            for (const range of Object.values(ranges)) {
              const lines = parse(built.body.subarray(range.offset, range.offset + range.length));
              expect(lines).toHaveLength(range.lines);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  test("a run that claims more lines than the range holds is a format error", () => {
    const header = '{"job":"j","node":"n","attempt":"a","stream":"stdout","tok":"t"}\n';
    expect(parseSegmentText(`${header}["4294967296",5,2,4096]\nonly one\n\n`)).toHaveLength(2); // "only one" and ""
    expect(() => parseSegmentText(`${header}["4294967296",5,2,4096]\nonly one\n`)).toThrow(SegmentFormatError);
    expect(() => parseSegmentText(`${header}["4294967296",5,0,4096]\n`)).toThrow(SegmentFormatError);
    expect(() => parseSegmentText(`${header}["4294967296",5,1,0]\nx\n`)).toThrow(SegmentFormatError);
    expect(parseSegmentText(`${header}["4294967296",5,2,4096]\n{"job":"x"}\n\n`).map((l) => [l.id, l.text])).toEqual([
      [4294967296n, '{"job":"x"}'],
      [4294971392n, ""],
    ]);
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
