// The DynamoDB items of the log index (keys in ./keys.ts): which segment object holds which byte
// ranges, per stream. Written by the writer once per segment, read by the reader.

import { LOG_TTL_ATTRIBUTE } from "./keys";
import { formatLineId, parseLineId } from "./line-id";
import { LOG_STREAMS, type LineRange, type StreamRanges } from "./segment";

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
    [LOG_TTL_ATTRIBUTE]: entry.expiresAtSec,
    ...(entry.task ? { node: entry.task.node, attempt: entry.task.attempt } : {}),
  };
}

/** The entry an item holds, or undefined for an item this version cannot read. */
export function parseIndexItem(item: Record<string, unknown>): IndexEntry | undefined {
  const { seg, first, r, node, attempt } = item;
  const expiresAt = item[LOG_TTL_ATTRIBUTE];
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
