// The segment object format: one S3 object holding the lines of many tasks written by one worker
// within a few seconds. It is JSON lines, in groups: a header object naming the task and stream,
// then that task's lines of that stream as `["<line id>", <time ms>, "<text>"]` rows in id order.
// The header also carries the attempt's token (`tok`), which readers check against the dispatch
// key, so a worker can only add lines to attempts it was sent (docs/adr/0004-trust-boundaries.md).
// Groups are sorted by (stream, job, node, attempt), so each stream is one contiguous section, each
// job one contiguous range within it, and each task one group: a reader fetches exactly the range
// it needs with a ranged GET, and every range starts at a header.

import { formatLineId, parseLineId } from "./line-id";

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
  /** The group's rows, encoded as they come into chunks of at least CHUNK_BYTES. */
  chunks: Buffer[];
  /** Bytes used in the last chunk. */
  used: number;
  lines: number;
  bytes: number;
  firstId: bigint;
  lastId: bigint;
}

const NEWLINE = "\n";
/** Rows are encoded straight into buffers of up to this size (no string per segment to build and copy). */
const CHUNK_BYTES = 64 * 1024;

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
  if (range === undefined) {
    ranges[group.stream] = {
      offset,
      length: group.bytes,
      firstId: group.firstId,
      lastId: group.lastId,
      lines: group.lines,
    };
    return;
  }
  range.length = offset + group.bytes - range.offset;
  if (group.firstId < range.firstId) range.firstId = group.firstId;
  if (group.lastId > range.lastId) range.lastId = group.lastId;
  range.lines += group.lines;
}

/** Encodes `row` at the end of the group's last chunk (a new one when it does not fit); returns its bytes. */
function appendRow(group: Group, row: string): number {
  let chunk = group.chunks[group.chunks.length - 1];
  // A UTF-8 character takes at most 3 bytes per UTF-16 unit: room for that always fits.
  if (chunk === undefined || chunk.length - group.used < row.length * 3) {
    // Small groups (a short task's few lines) stay small: chunks start at 256 bytes and double.
    const size = Math.max(row.length * 3, Math.min(CHUNK_BYTES, chunk === undefined ? 256 : chunk.length * 2));
    if (chunk !== undefined) group.chunks[group.chunks.length - 1] = chunk.subarray(0, group.used);
    chunk = Buffer.allocUnsafe(size);
    group.chunks.push(chunk);
    group.used = 0;
  }
  const bytes = chunk.write(row, group.used, "utf8");
  group.used += bytes;
  return bytes;
}

/** Collects lines in memory and lays them out as one segment; its size counts the encoded bytes. */
export class SegmentBuilder {
  private readonly groups = new Map<string, Group>();
  /** The group of the last line: consecutive lines of one task stream skip the map. */
  private lastGroup: Group | undefined;
  private size = 0;
  private count = 0;
  private first: bigint | undefined;
  private last: bigint | undefined;

  /** Encoded bytes so far. */
  get bytes(): number {
    return this.size;
  }
  get lines(): number {
    return this.count;
  }
  /** The smallest id added, if any. */
  get firstId(): bigint | undefined {
    return this.first;
  }

  /** Adds one line (ids of one task and stream must arrive in increasing order); returns the bytes it added. */
  add(task: TokenedAttempt, stream: LogStream, id: bigint, timeMs: number, text: string): number {
    let group = this.lastGroup;
    let added = 0;
    if (
      group === undefined ||
      group.stream !== stream ||
      group.task.job !== task.job ||
      group.task.node !== task.node ||
      group.task.attempt !== task.attempt
    ) {
      const key = JSON.stringify([stream, task.job, task.node, task.attempt]);
      group = this.groups.get(key);
      if (group === undefined) {
        const header =
          JSON.stringify({ job: task.job, node: task.node, attempt: task.attempt, stream, tok: task.token }) + NEWLINE;
        const headerBytes = Buffer.byteLength(header);
        const copy = { job: task.job, node: task.node, attempt: task.attempt, token: task.token };
        group = {
          task: copy,
          stream,
          header,
          chunks: [],
          used: 0,
          lines: 0,
          bytes: headerBytes,
          firstId: id,
          lastId: id,
        };
        this.groups.set(key, group);
        added += headerBytes;
      }
      this.lastGroup = group;
    }
    // The same bytes as JSON.stringify([formatLineId(id), timeMs, text]), built without an array.
    const row = `["${formatLineId(id)}",${JSON.stringify(timeMs)},${JSON.stringify(text)}]\n`;
    const rowBytes = appendRow(group, row);
    group.lines += 1;
    group.bytes += rowBytes;
    if (id < group.firstId) group.firstId = id;
    if (id > group.lastId) group.lastId = id;
    if (this.first === undefined || id < this.first) this.first = id;
    if (this.last === undefined || id > this.last) this.last = id;
    added += rowBytes;
    this.size += added;
    this.count += 1;
    return added;
  }

  /** The object body and the byte ranges the index records. Throws if nothing was added. */
  build(): BuiltSegment {
    if (this.first === undefined || this.last === undefined) throw new Error("Cannot build an empty segment");
    const groups = [...this.groups.values()].sort(compareGroups);
    const sections: StreamRanges = {};
    const jobs = new Map<string, StreamRanges>();
    const tasks = new Map<string, { task: TaskAttempt; ranges: StreamRanges }>();
    const parts: Buffer[] = [];
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
      parts.push(Buffer.from(group.header, "utf8"));
      const last = group.chunks.length - 1;
      group.chunks.forEach((chunk, i) => parts.push(i === last ? chunk.subarray(0, group.used) : chunk));
      offset += group.bytes;
    }
    const body = Buffer.concat(parts);
    if (body.length !== offset) throw new Error(`Segment size mismatch: ${body.length} != ${offset}`);
    return {
      body,
      firstId: this.first,
      lastId: this.last,
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
    const [idText, timeMs, lineText] = value as unknown[];
    const id = typeof idText === "string" ? parseLineId(idText) : undefined;
    if (id === undefined || typeof timeMs !== "number" || typeof lineText !== "string") {
      throw new SegmentFormatError(`Segment line ${i + 1} is not a valid log line`);
    }
    lines.push({ ...header, id, timeMs, text: lineText });
  }
  return lines;
}
