// The segment object format: one S3 object holding the lines of many tasks written by one worker
// within a few seconds. It is lines, in groups: a JSON header object naming the task and stream,
// then that task's lines of that stream in id order, each either a JSON row
// `["<line id>", <time ms>, "<text>"]` or part of a run: a JSON head `["<first id>", <time ms>,
// <count>, <id step>]` followed by `count` lines of task output as they were read, each ending in
// "\n" (./segment-rows.ts). Runs came in with format 2 (docs/logs.md); format-1 segments are JSON
// rows only and read the same.
// The header also carries the attempt's token (`tok`), which readers check against the dispatch
// key, so a worker can only add lines to attempts it was sent (docs/adr/0004-trust-boundaries.md).
// Groups are sorted by (stream, job, node, attempt), so each stream is one contiguous section, each
// job one contiguous range within it, and each task one group: a reader fetches exactly the range
// it needs with a ranged GET, and every range starts at a header.

import { lineIdFromParts, parseLineId } from "./line-id";
import { RowChunks, timeBytes, type LineSlices } from "./segment-rows";

export const LOG_STREAMS = ["stdout", "stderr", "statuses"] as const;
export type LogStream = (typeof LOG_STREAMS)[number];

export function isLogStream(name: string): name is LogStream {
  return (LOG_STREAMS as readonly string[]).includes(name);
}

/** One start of one task: the unit lines belong to. */
export interface TaskAttempt {
  job: string;
  node: string;
  attempt: string;
}

/** An attempt with the token its start order carried: what a group header records. */
export interface TokenedAttempt extends TaskAttempt {
  token: string;
}

/** Bytes [offset, offset + length) of a segment, holding `lines` lines with ids in [firstId, lastId]. */
export interface LineRange {
  offset: number;
  length: number;
  firstId: bigint;
  lastId: bigint;
  lines: number;
}

export type StreamRanges = Partial<Record<LogStream, LineRange>>;

export interface BuiltSegment {
  body: Buffer;
  firstId: bigint;
  lastId: bigint;
  lines: number;
  /** Each stream's whole section. */
  sections: StreamRanges;
  /** Each job's range within each stream section. */
  jobs: { job: string; ranges: StreamRanges }[];
  /** Each task attempt's group within each stream section. */
  tasks: { task: TaskAttempt; ranges: StreamRanges }[];
}

export interface StoredLine extends TaskAttempt {
  /** The group header's token; absent in segments written before tokens were recorded. */
  token?: string;
  id: bigint;
  stream: LogStream;
  timeMs: number;
  text: string;
}

export class SegmentFormatError extends Error {
  override readonly name = "SegmentFormatError";
}

interface Group {
  task: TokenedAttempt;
  stream: LogStream;
  header: string;
  rows: RowChunks;
  lines: number;
  bytes: number;
  firstId: bigint;
  /** The last id as its two halves (a bigint only when the segment is built). */
  lastSec: number;
  lastLow: number;
}

const NEWLINE = "\n";

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareGroups(a: Group, b: Group): number {
  return (
    LOG_STREAMS.indexOf(a.stream) - LOG_STREAMS.indexOf(b.stream) ||
    compareStrings(a.task.job, b.task.job) ||
    compareStrings(a.task.node, b.task.node) ||
    compareStrings(a.task.attempt, b.task.attempt)
  );
}

/** Widens `ranges[stream]` by the group at `offset` (groups of one range are added in byte order). */
function extend(ranges: StreamRanges, group: Group, offset: number): void {
  const range = ranges[group.stream];
  const lastId = lineIdFromParts(group.lastSec, group.lastLow);
  if (range === undefined) {
    ranges[group.stream] = { offset, length: group.bytes, firstId: group.firstId, lastId, lines: group.lines };
    return;
  }
  range.length = offset + group.bytes - range.offset;
  if (group.firstId < range.firstId) range.firstId = group.firstId;
  if (lastId > range.lastId) range.lastId = lastId;
  range.lines += group.lines;
}

const isAfter = (sec: number, low: number, otherSec: number, otherLow: number) =>
  sec > otherSec || (sec === otherSec && low > otherLow);

/**
 * Collects lines in memory and lays them out as one segment; its size counts the encoded bytes.
 * Ids come as their two 32-bit halves (`sec`, `low`); the lines of one task stream must come in
 * increasing id order.
 */
export class SegmentBuilder {
  private readonly groups = new Map<string, Group>();
  /** The group of the last line: consecutive lines of one task stream skip the map. */
  private lastGroup: Group | undefined;
  private size = 0;
  private count = 0;
  private firstSecond = -1;
  private firstLow = 0;
  private lastSecond = -1;
  private lastLow = 0;

  /** Encoded bytes so far. */
  get bytes(): number {
    return this.size;
  }
  get lines(): number {
    return this.count;
  }
  /** The time part of the smallest id added, if any. */
  get firstSec(): number | undefined {
    return this.count === 0 ? undefined : this.firstSecond;
  }

  /** Adds one line given as a string; returns the bytes it added. */
  add(task: TokenedAttempt, stream: LogStream, id: bigint, timeMs: number, text: string): number {
    const sec = Number(id >> 32n);
    const low = Number(id & 0xffffffffn);
    const group = this.group(task, stream, sec, low);
    const rowBytes = group.rows.appendText(sec, low, timeBytes(timeMs), text);
    this.addedFirst(sec, low);
    return this.added(group, sec, low, rowBytes);
  }

  /**
   * Adds lines `from` to `to` (exclusive) of `lines`, given as bytes, as one run (./segment-rows.ts):
   * their ids are `sec`/`low` and then each `step` higher, all within second `sec`; `time` from
   * `timeBytes`. Reads back as what `add` would store for each decoded line. Returns the bytes it
   * added.
   */
  addRun(
    task: TokenedAttempt,
    stream: LogStream,
    sec: number,
    low: number,
    step: number,
    time: Buffer,
    lines: LineSlices,
    from: number,
    to: number,
  ): number {
    const group = this.group(task, stream, sec, low);
    const rowBytes = group.rows.appendRun(sec, low, step, time, lines, from, to);
    this.addedFirst(sec, low);
    return this.added(group, sec, low + (to - from - 1) * step, rowBytes, to - from);
  }

  /** The group of this task stream; a new one (its header counted in `size`) for the first line. */
  private group(task: TokenedAttempt, stream: LogStream, sec: number, low: number): Group {
    const last = this.lastGroup;
    if (
      last !== undefined &&
      last.stream === stream &&
      last.task.job === task.job &&
      last.task.node === task.node &&
      last.task.attempt === task.attempt
    ) {
      return last;
    }
    const key = JSON.stringify([stream, task.job, task.node, task.attempt]);
    let group = this.groups.get(key);
    if (group === undefined) {
      const header =
        JSON.stringify({ job: task.job, node: task.node, attempt: task.attempt, stream, tok: task.token }) + NEWLINE;
      const headerBytes = Buffer.byteLength(header);
      const copy = { job: task.job, node: task.node, attempt: task.attempt, token: task.token };
      group = {
        task: copy,
        stream,
        header,
        rows: new RowChunks(),
        lines: 0,
        bytes: headerBytes,
        firstId: lineIdFromParts(sec, low),
        lastSec: sec,
        lastLow: low,
      };
      this.groups.set(key, group);
      this.size += headerBytes;
    }
    this.lastGroup = group;
    return group;
  }

  /** Keeps the smallest id added; call before `added`. */
  private addedFirst(sec: number, low: number): void {
    if (this.count === 0 || isAfter(this.firstSecond, this.firstLow, sec, low)) {
      this.firstSecond = sec;
      this.firstLow = low;
    }
  }

  /** Counts `lines` rows of `group` (`rowBytes` encoded) whose last id is `sec`/`low`. */
  private added(group: Group, sec: number, low: number, rowBytes: number, lines = 1): number {
    const isNewGroup = group.lines === 0;
    group.lines += lines;
    group.bytes += rowBytes;
    group.lastSec = sec;
    group.lastLow = low;
    if (this.count === 0 || isAfter(sec, low, this.lastSecond, this.lastLow)) {
      this.lastSecond = sec;
      this.lastLow = low;
    }
    this.size += rowBytes;
    this.count += lines;
    // A new group's header was counted in `size` already; callers count it with these rows.
    return rowBytes + (isNewGroup ? Buffer.byteLength(group.header) : 0);
  }

  /** The object body and the byte ranges the index records. Throws if nothing was added. */
  build(allocate: (length: number) => Buffer = (length) => Buffer.allocUnsafe(length)): BuiltSegment {
    if (this.count === 0) throw new Error("Cannot build an empty segment");
    // The body is written straight into memory from `allocate` (the writer reuses written bodies').
    const body = allocate(this.size);
    let written = 0;
    const groups = [...this.groups.values()].sort(compareGroups);
    const sections: StreamRanges = {};
    const jobs = new Map<string, StreamRanges>();
    const tasks = new Map<string, { task: TaskAttempt; ranges: StreamRanges }>();
    let offset = 0;
    for (const group of groups) {
      extend(sections, group, offset);
      const jobRanges = jobs.get(group.task.job) ?? {};
      jobs.set(group.task.job, jobRanges);
      extend(jobRanges, group, offset);
      const taskKey = JSON.stringify([group.task.job, group.task.node, group.task.attempt]);
      const { token: _token, ...task } = group.task;
      const taskEntry = tasks.get(taskKey) ?? { task, ranges: {} };
      tasks.set(taskKey, taskEntry);
      extend(taskEntry.ranges, group, offset);
      written += body.write(group.header, written, "utf8");
      for (const rows of group.rows.buffers()) written += rows.copy(body, written);
      offset += group.bytes;
    }
    if (written !== offset || offset !== body.length) {
      throw new Error(`Segment size mismatch: ${written} written, ${offset} counted, ${body.length} allocated`);
    }
    return {
      body,
      firstId: lineIdFromParts(this.firstSecond, this.firstLow),
      lastId: lineIdFromParts(this.lastSecond, this.lastLow),
      lines: this.count,
      sections,
      jobs: [...jobs].map(([job, ranges]) => ({ job, ranges })),
      tasks: [...tasks.values()],
    };
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseJson(line: string, lineNumber: number): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw new SegmentFormatError(`Segment line ${lineNumber} is not JSON`);
  }
}

/** The lines in a range of a segment; the range must start at a group header. */
export function parseSegmentText(text: string): StoredLine[] {
  const lines: StoredLine[] = [];
  let header: (TaskAttempt & { token?: string; stream: LogStream }) | undefined;
  const rows = text.split(NEWLINE);
  // Rows that ended in a newline: a run's lines must be among them.
  const complete = text.endsWith(NEWLINE) ? rows.length - 1 : rows.length;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    if (row === undefined || row === "") continue;
    const value = parseJson(row, i + 1);
    if (isRecord(value)) {
      const { job, node, attempt, stream, tok } = value;
      if (
        typeof job !== "string" ||
        typeof node !== "string" ||
        typeof attempt !== "string" ||
        typeof stream !== "string" ||
        !isLogStream(stream) ||
        (tok !== undefined && typeof tok !== "string")
      ) {
        throw new SegmentFormatError(`Segment line ${i + 1} is not a valid group header`);
      }
      header = { job, node, attempt, stream, ...(tok === undefined ? {} : { token: tok }) };
      continue;
    }
    if (!Array.isArray(value) || header === undefined) {
      throw new SegmentFormatError(`Segment line ${i + 1} is not a line of a group`);
    }
    const [idText, timeMs, third, step] = value as unknown[];
    const id = typeof idText === "string" ? parseLineId(idText) : undefined;
    if (id === undefined || typeof timeMs !== "number") {
      throw new SegmentFormatError(`Segment line ${i + 1} is not a valid log line`);
    }
    if (value.length === 3 && typeof third === "string") {
      lines.push({ ...header, id, timeMs, text: third });
      continue;
    }
    // A run: `count` lines follow as they are, ids `step` apart.
    if (
      value.length !== 4 ||
      !Number.isSafeInteger(third) ||
      !Number.isSafeInteger(step) ||
      (third as number) < 1 ||
      (step as number) < 1 ||
      i + (third as number) >= complete
    ) {
      throw new SegmentFormatError(`Segment line ${i + 1} is not a valid log line or run`);
    }
    const count = third as number;
    const idStep = BigInt(step as number);
    for (let k = 0; k < count; k++) {
      lines.push({ ...header, id: id + BigInt(k) * idStep, timeMs, text: rows[i + 1 + k] ?? "" });
    }
    i += count;
  }
  return lines;
}
