// The DynamoDB items of the log index (keys in ./keys.ts): which segment object holds which byte
// ranges, per stream. Built here for each segment the writer writes, read by the reader.

import type { WriteRequest } from "../store/batch";
import { TTL_ATTRIBUTE } from "../store/keys";
import { dayBucket, logJobPk, logSegmentSk, logTaskPk, logTaskSk, logTimePk } from "./keys";
import { formatLineId, lineIdTimeSec, parseLineId } from "./line-id";
import { LOG_STREAMS, type BuiltSegment, type LineRange, type StreamRanges } from "./segment";

/** One index item: byte ranges of one segment, for one task attempt, one job, or the whole segment. */
export interface IndexEntry {
  /** S3 key of the segment object. */
  segmentKey: string;
  /** No line of the entry has a smaller id (the sort key orders entries by it). */
  firstId: bigint;
  ranges: StreamRanges;
  expiresAtSec: number;
  /** Task index entries only. */
  task?: { node: string; attempt: string };
}

/** A range as stored: [offset, length, first id, last id, lines]; ids are strings (64-bit). */
type StoredRange = [number, number, string, string, number];

function storeRange(range: LineRange): StoredRange {
  return [range.offset, range.length, formatLineId(range.firstId), formatLineId(range.lastId), range.lines];
}

function loadRange(value: unknown): LineRange | undefined {
  if (!Array.isArray(value) || value.length !== 5) return undefined;
  const [offset, length, first, last, lines] = value as unknown[];
  if (typeof offset !== "number" || typeof length !== "number" || typeof lines !== "number") return undefined;
  const firstId = typeof first === "string" ? parseLineId(first) : undefined;
  const lastId = typeof last === "string" ? parseLineId(last) : undefined;
  if (firstId === undefined || lastId === undefined) return undefined;
  return { offset, length, firstId, lastId, lines };
}

export function indexItem(key: { pk: string; sk: string }, entry: IndexEntry): Record<string, unknown> {
  const ranges: Record<string, StoredRange> = {};
  for (const stream of LOG_STREAMS) {
    const range = entry.ranges[stream];
    if (range !== undefined) ranges[stream] = storeRange(range);
  }
  return {
    ...key,
    seg: entry.segmentKey,
    first: formatLineId(entry.firstId),
    r: ranges,
    [TTL_ATTRIBUTE]: entry.expiresAtSec,
    ...(entry.task ? { node: entry.task.node, attempt: entry.task.attempt } : {}),
  };
}

/** The entry an item holds, or undefined for an item this version cannot read. */
export function parseIndexItem(item: Record<string, unknown>): IndexEntry | undefined {
  const { seg, first, r, node, attempt } = item;
  const expiresAt = item[TTL_ATTRIBUTE];
  const firstId = typeof first === "string" ? parseLineId(first) : undefined;
  if (typeof seg !== "string" || firstId === undefined || typeof expiresAt !== "number") return undefined;
  if (typeof r !== "object" || r === null) return undefined;
  const stored = r as Record<string, unknown>;
  const ranges: StreamRanges = {};
  for (const stream of LOG_STREAMS) {
    if (stored[stream] === undefined) continue;
    const range = loadRange(stored[stream]);
    if (range === undefined) return undefined;
    ranges[stream] = range;
  }
  return {
    segmentKey: seg,
    firstId,
    ranges,
    expiresAtSec: expiresAt,
    ...(typeof node === "string" && typeof attempt === "string" ? { task: { node, attempt } } : {}),
  };
}

function minFirstId(ranges: StreamRanges): bigint {
  let first: bigint | undefined;
  for (const stream of LOG_STREAMS) {
    const range = ranges[stream];
    if (range !== undefined && (first === undefined || range.firstId < first)) first = range.firstId;
  }
  if (first === undefined) throw new Error("An index entry needs at least one range");
  return first;
}

/**
 * The index items of one written segment: one per task attempt, one per job, and one for the day,
 * each with the byte ranges of its lines; they expire `retentionDays` after the segment's last line.
 */
export function segmentIndexRequests(
  segmentKey: string,
  name: string,
  built: BuiltSegment,
  retentionDays: number,
): WriteRequest[] {
  const expiresAtSec = lineIdTimeSec(built.lastId) + Math.ceil(retentionDays * 86400);
  const put = (key: { pk: string; sk: string }, entry: IndexEntry): WriteRequest => ({
    PutRequest: { Item: indexItem(key, entry) },
  });
  const requests: WriteRequest[] = [];
  for (const { task, ranges } of built.tasks) {
    const firstId = minFirstId(ranges);
    const key = { pk: logTaskPk(task.job), sk: logTaskSk(task.node, firstId, name) };
    const taskRef = { node: task.node, attempt: task.attempt };
    requests.push(put(key, { segmentKey, firstId, ranges, expiresAtSec, task: taskRef }));
  }
  for (const { job, ranges } of built.jobs) {
    const firstId = minFirstId(ranges);
    requests.push(
      put({ pk: logJobPk(job), sk: logSegmentSk(firstId, name) }, { segmentKey, firstId, ranges, expiresAtSec }),
    );
  }
  const timeKey = { pk: logTimePk(dayBucket(lineIdTimeSec(built.firstId))), sk: logSegmentSk(built.firstId, name) };
  requests.push(put(timeKey, { segmentKey, firstId: built.firstId, ranges: built.sections, expiresAtSec }));
  return requests;
}
