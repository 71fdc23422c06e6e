// Reading task logs with Bistro's `task_logs` semantics: one stream, optional
// job/node lists, asc/desc from an inclusive time or line-id bound, regex search, pages of `limit`
// lines with a `next_line_id` cursor. Lines are found through the index only (never an S3 LIST):
// per task for (job, node) queries, per job for job queries, by day for everything else. Index
// entries overlap in id ranges (workers write concurrently), so entries are merged: a line is
// returned only once no unread entry can hold a line before it.

import { GetObjectCommand, NoSuchKey, type S3Client } from "@aws-sdk/client-s3";

import { tokenMatches, type AttemptTokens } from "../dispatch/tokens";
import type { IndexEntry } from "./index-items";
import { planSources, type IndexReaderDeps, type IndexSource } from "./index-source";
import { MAX_SEGMENT_SPAN_ID } from "./keys";
import { formatLineId, lineIdTimeSec, MAX_LINE_ID, NOT_A_LINE_ID } from "./line-id";
import { parseLogQuery, type LogLineRow, type LogPage, type LogQuery } from "./query";
import { parseSegmentText, type LineRange, type StoredLine } from "./segment";

export {
  DEFAULT_LOG_PAGE_LIMIT,
  LogQueryError,
  MAX_LOG_PAGE_LIMIT,
  parseLogQuery,
  type LogLineRow,
  type LogPage,
  type LogQuery,
  type ParsedLogQuery,
} from "./query";

export interface LogReaderDeps extends IndexReaderDeps {
  s3: S3Client;
  bucket: string;
  /**
   * The deployment's attempt tokens: a line is shown only when its group's token is the one its
   * attempt was given, so a worker cannot add lines to attempts it was never sent.
   */
  attemptTokens: () => Promise<AttemptTokens>;
  /** Clock for skipping expired index items and choosing day partitions; default Date.now. */
  now?: () => number;
  /**
   * Bytes read from S3 after which a page ends early (with a cursor), once it holds a line or, with a
   * regex filter, once the cursor has moved. Default 32 MiB.
   */
  maxScanBytes?: number;
  /** Ranged GETs in flight at once. Default 8. */
  readConcurrency?: number;
}

interface PendingRange {
  entry: IndexEntry;
  range: LineRange;
}

function compareLines(a: StoredLine, b: StoredLine): number {
  if (a.id !== b.id) return a.id < b.id ? -1 : 1;
  if (a.job !== b.job) return a.job < b.job ? -1 : 1;
  if (a.node !== b.node) return a.node < b.node ? -1 : 1;
  return a.attempt < b.attempt ? -1 : a.attempt > b.attempt ? 1 : 0;
}

const DEFAULT_MAX_SCAN_BYTES = 32 * 1024 * 1024;
const DEFAULT_READ_CONCURRENCY = 8;

/** Below every id / above every id: thresholds meaning "nothing is final yet" or "everything is". */
const BEFORE_ALL = -1n;
const AFTER_ALL = MAX_LINE_ID + 1n;

/** One page of log lines (Bistro's `task_logs`). Throws LogQueryError for invalid queries. */
export async function readLogs(deps: LogReaderDeps, query: LogQuery): Promise<LogPage> {
  const q = parseLogQuery(query);
  const nowSec = Math.floor((deps.now ?? Date.now)() / 1000);
  const tokens = await deps.attemptTokens();
  const verified = new Map<string, boolean>();
  /** Whether a line's group was written by the holder of its attempt (checked once per group). */
  const isGenuine = (line: StoredLine): boolean => {
    const key = `${line.job}\u0000${line.node}\u0000${line.attempt}\u0000${line.token ?? ""}`;
    let genuine = verified.get(key);
    if (genuine === undefined) {
      genuine = tokenMatches(tokens, line, line.token);
      verified.set(key, genuine);
    }
    return genuine;
  };
  const maxScanBytes = deps.maxScanBytes ?? DEFAULT_MAX_SCAN_BYTES;
  const maxConcurrency = Math.max(1, deps.readConcurrency ?? DEFAULT_READ_CONCURRENCY);
  // Starts with one GET and doubles: a small page opens only the ranges it needs.
  let concurrency = 1;
  const sources = planSources(deps, q, nowSec);
  const asc = q.ascending;
  const inBound = (id: bigint) => (asc ? id >= q.bound : id <= q.bound);
  const order = asc ? compareLines : (a: StoredLine, b: StoredLine) => compareLines(b, a);

  const pending: PendingRange[] = [];
  let buffer: StoredLine[] = [];
  const lines: LogLineRow[] = [];
  let lastReturnedId: bigint | undefined;
  let scannedBytes = 0;

  /** Lines on the near side of the threshold are final: no unopened range can hold one before them. */
  const threshold = (): bigint => {
    let t = asc ? AFTER_ALL : BEFORE_ALL;
    const nearer = (id: bigint) => (asc ? id < t : id > t);
    for (const source of sources) {
      if (source.exhausted) continue;
      if (source.frontier === undefined) return asc ? BEFORE_ALL : AFTER_ALL;
      const reach = asc ? source.frontier : source.frontier + MAX_SEGMENT_SPAN_ID;
      if (nearer(reach)) t = reach;
    }
    const head = pending[0]?.range;
    if (head !== undefined) {
      const reach = asc ? head.firstId : head.lastId;
      if (nearer(reach)) t = reach;
    }
    return t;
  };

  const wanted = (entry: IndexEntry): LineRange | undefined => {
    const range = entry.ranges[q.stream];
    if (range === undefined || entry.expiresAtSec <= nowSec) return undefined;
    if (entry.task && q.attempt !== undefined && entry.task.attempt !== q.attempt) return undefined;
    if (entry.task && q.nodes !== undefined && !q.nodes.has(entry.task.node)) return undefined;
    return inBound(asc ? range.lastId : range.firstId) ? range : undefined;
  };

  /** Pending ranges stay sorted: the range to open next comes first. */
  const pendingOrder = (a: PendingRange, b: PendingRange) =>
    asc ? compareIds(a.range.firstId, b.range.firstId) : compareIds(b.range.lastId, a.range.lastId);

  const readIndex = async (source: IndexSource): Promise<void> => {
    for (const entry of await source.nextPage()) {
      const range = wanted(entry);
      if (range !== undefined) pending.push({ entry, range });
    }
    pending.sort(pendingOrder);
  };

  const fetchRange = async ({ entry, range }: PendingRange): Promise<StoredLine[]> => {
    let text: string;
    try {
      const object = await deps.s3.send(
        new GetObjectCommand({
          Bucket: deps.bucket,
          Key: entry.segmentKey,
          Range: `bytes=${range.offset}-${range.offset + range.length - 1}`,
        }),
      );
      text = (await object.Body?.transformToString("utf8")) ?? "";
    } catch (error) {
      if (error instanceof NoSuchKey) return []; // expired by the bucket's lifecycle before its index item
      throw error;
    }
    scannedBytes += range.length;
    return parseSegmentText(text).filter(
      (line) =>
        line.stream === q.stream &&
        inBound(line.id) &&
        (q.jobs === undefined || q.jobs.has(line.job)) &&
        (q.nodes === undefined || q.nodes.has(line.node)) &&
        (q.attempt === undefined || line.attempt === q.attempt) &&
        isGenuine(line),
    );
  };

  /** One step: open the next ranges if they come first, else read more of the index. */
  const advance = async (): Promise<void> => {
    // Sources not read yet are started together, a few at a time, rather than one query after another.
    const unstarted = sources.filter((s) => !s.exhausted && s.frontier === undefined).slice(0, maxConcurrency);
    if (unstarted.length > 0) {
      await Promise.all(unstarted.map(readIndex));
      return;
    }
    let nextSource: IndexSource | undefined;
    let sourceReach: bigint | undefined;
    for (const source of sources) {
      if (source.exhausted || source.frontier === undefined) continue;
      const reach = asc ? source.frontier : source.frontier + MAX_SEGMENT_SPAN_ID;
      if (sourceReach === undefined || (asc ? reach < sourceReach : reach > sourceReach)) {
        sourceReach = reach;
        nextSource = source;
      }
    }
    const head = pending[0];
    const headReach = head && (asc ? head.range.firstId : head.range.lastId);
    const pendingFirst =
      headReach !== undefined &&
      (sourceReach === undefined || (asc ? headReach <= sourceReach : headReach >= sourceReach));
    if (!pendingFirst) {
      if (nextSource !== undefined) await readIndex(nextSource);
      return;
    }
    // Open the ranges that come before anything still unread, a few at a time.
    let count = 1;
    while (count < Math.min(concurrency, pending.length)) {
      const range = pending[count]?.range;
      if (range === undefined) break;
      const reach = asc ? range.firstId : range.lastId;
      if (sourceReach !== undefined && (asc ? reach > sourceReach : reach < sourceReach)) break;
      count += 1;
    }
    concurrency = Math.min(maxConcurrency, concurrency * 2);
    const opened = pending.splice(0, count);
    const loaded = await Promise.all(opened.map(fetchRange));
    buffer = buffer.concat(...loaded).sort(order);
  };

  for (;;) {
    const t = threshold();
    let emitted = 0;
    for (const line of buffer) {
      if (asc ? line.id >= t : line.id <= t) break;
      emitted += 1;
      if (q.regex !== undefined && !q.regex.test(line.text)) continue;
      // A page never ends between lines with equal ids, so the cursor cannot skip or repeat one.
      if (lines.length >= q.limit && line.id !== lastReturnedId) {
        return { nextLineId: formatLineId(line.id), lines };
      }
      lines.push([line.job, line.node, lineIdTimeSec(line.id), line.text, formatLineId(line.id)]);
      lastReturnedId = line.id;
    }
    buffer = buffer.slice(emitted);
    if (pending.length === 0 && sources.every((s) => s.exhausted)) {
      return { nextLineId: formatLineId(NOT_A_LINE_ID), lines };
    }
    const progressed = asc ? t > q.bound : t < q.bound;
    if (scannedBytes >= maxScanBytes && progressed && (lines.length > 0 || q.regex !== undefined)) {
      return { nextLineId: formatLineId(t), lines };
    }
    await advance();
  }
}

function compareIds(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
