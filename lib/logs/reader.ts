// Reading task logs with Bistro's `task_logs` semantics: one stream, optional
// job/node lists, asc/desc from an inclusive time or line-id bound, regex search, pages of `limit`
// lines with a `next_line_id` cursor. Lines are found through the index only (never an S3 LIST):
// per task for (job, node) queries, per job for job queries, by day for everything else. Index
// entries overlap in id ranges (workers write concurrently), so entries are merged: a line is
// returned only once no unread entry can hold a line before it.

import { GetObjectCommand, NoSuchKey, type S3Client } from "@aws-sdk/client-s3";
import { QueryCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

import { compileUserRegex, type UserRegex } from "../config/regex";
import { tokenMatches, type AttemptTokens } from "../dispatch/tokens";
import { parseIndexItem, type IndexEntry } from "./index-items";
import {
  dayBuckets,
  DEFAULT_LOG_RETENTION_DAYS,
  firstIdSkRange,
  logJobPk,
  logTaskPk,
  logTimePk,
  MAX_SEGMENT_SPAN_ID,
  SECONDS_PER_DAY,
} from "./keys";
import { formatLineId, lineIdFromTime, lineIdTimeSec, MAX_LINE_ID, NOT_A_LINE_ID, parseLineId } from "./line-id";
import { isLogStream, parseSegmentText, type LineRange, type LogStream, type StoredLine } from "./segment";

export interface LogReaderDeps {
  s3: S3Client;
  doc: DynamoDBDocumentClient;
  tableName: string;
  bucket: string;
  /**
   * The deployment's attempt tokens: a line is shown only when its group's token is the one its
   * attempt was given, so a worker cannot add lines to attempts it was never sent.
   */
  attemptTokens: () => Promise<AttemptTokens>;
  /** Clock for skipping expired index items and choosing day partitions; default Date.now. */
  now?: () => number;
  /** How far back day partitions are searched; must be at least the writers' retention. Default 30. */
  retentionDays?: number;
  /**
   * Bytes read from S3 after which a page ends early (with a cursor), once it holds a line or, with a
   * regex filter, once the cursor has moved. Default 32 MiB.
   */
  maxScanBytes?: number;
  /** Ranged GETs in flight at once. Default 8. */
  readConcurrency?: number;
}

/** Bistro's `task_logs` parameters, camel-cased; `attempt` is a Sous extension. */
export interface LogQuery {
  logType: string;
  jobs?: readonly string[];
  nodes?: readonly string[];
  /** "asc" or "desc", any case; default "desc". */
  sort?: string;
  /** Seconds: the first (asc) or last (desc) second to return. Exclusive with `lineId`. */
  time?: number;
  /** Decimal line id: the inclusive bound, usually a previous page's `nextLineId`. "-1" means none. */
  lineId?: string;
  /** A regular expression searched in each line; "" matches all. */
  regexFilter?: string;
  /** Lines per page; default 1000. */
  limit?: number;
  /** Only lines of this task attempt. */
  attempt?: string;
}

/** `[job, node, time in seconds, line, line id]`, as Bistro returns them. */
export type LogLineRow = [job: string, node: string, timeSec: number, line: string, lineId: string];

export interface LogPage {
  /** Pass as `lineId` (same `sort`) for the next page; "-1" when there are no more lines. */
  nextLineId: string;
  lines: LogLineRow[];
}

/** A query Bistro would refuse; the message is Bistro's where Bistro has one. */
export class LogQueryError extends Error {
  override readonly name = "LogQueryError";
}

export const DEFAULT_LOG_PAGE_LIMIT = 1000;
export const MAX_LOG_PAGE_LIMIT = 10000;
/** Up to this many (job, node) pairs are read through the task index; more go through the job index. */
const MAX_TASK_SOURCES = 64;
/**
 * Up to this many jobs are read through the job index; more go through the day index (filtering
 * lines by job), so a long job list costs a few partitions, not one query per job.
 */
const MAX_JOB_SOURCES = 64;
const QUERY_PAGE_ITEMS = 200;
const DEFAULT_MAX_SCAN_BYTES = 32 * 1024 * 1024;
const DEFAULT_READ_CONCURRENCY = 8;

export interface ParsedLogQuery {
  stream: LogStream;
  jobs: ReadonlySet<string> | undefined;
  nodes: ReadonlySet<string> | undefined;
  attempt: string | undefined;
  ascending: boolean;
  /** Inclusive bound (already clamped to the id range). */
  bound: bigint;
  regex: UserRegex | undefined;
  limit: number;
}

const nonEmptySet = (values: readonly string[] | undefined) =>
  values !== undefined && values.length > 0 ? new Set(values) : undefined;

/** Validates a query, checking in Bistro's order: sort, time vs line id, log type. */
export function parseLogQuery(query: LogQuery): ParsedLogQuery {
  const sort = (query.sort ?? "desc").toLowerCase();
  if (sort !== "asc" && sort !== "desc") throw new LogQueryError(`Unknown sort order: ${query.sort ?? ""}`);
  const ascending = sort === "asc";
  let bound = NOT_A_LINE_ID;
  if (query.time !== undefined) {
    if (!Number.isInteger(query.time)) throw new LogQueryError(`time must be an integer number of seconds`);
    bound = lineIdFromTime(query.time, ascending);
  }
  if (query.lineId !== undefined) {
    if (query.time !== undefined) throw new LogQueryError("Cannot specify both time and line_id");
    const parsed = parseLineId(query.lineId);
    if (parsed === undefined) throw new LogQueryError(`Invalid line_id: ${query.lineId}`);
    bound = parsed;
  }
  if (!isLogStream(query.logType)) throw new LogQueryError(`Unknown table for logs: ${query.logType}`);
  // As in Bistro, -1 (the "no more lines" cursor) means no bound at all.
  if (bound === NOT_A_LINE_ID) bound = ascending ? 0n : MAX_LINE_ID;
  else if (ascending && bound < 0n) bound = 0n;
  const limit = query.limit ?? DEFAULT_LOG_PAGE_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LOG_PAGE_LIMIT) {
    throw new LogQueryError(`limit must be an integer from 1 to ${MAX_LOG_PAGE_LIMIT}`);
  }
  let regex: UserRegex | undefined;
  if (query.regexFilter !== undefined && query.regexFilter !== "") {
    try {
      // Linear time in each line, whatever the pattern (a backtracking engine could stall here).
      regex = compileUserRegex(query.regexFilter);
    } catch (error) {
      throw new LogQueryError(`Invalid regex_filter: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return {
    stream: query.logType,
    jobs: nonEmptySet(query.jobs),
    nodes: nonEmptySet(query.nodes),
    attempt: query.attempt,
    ascending,
    bound,
    regex,
    limit,
  };
}

interface Partition {
  pk: string;
  sk: [string, string];
  /** Once this partition is read, every later entry starts at or after (asc) / at or before (desc) this id. */
  doneFrontier?: bigint;
}

/** Index entries of some partitions, in first-id order (partitions are given in that order). */
class IndexSource {
  /** First id of the last entry read: unread entries start at or after it (asc), at or before it (desc). */
  frontier: bigint | undefined;
  exhausted = false;
  private partition = 0;
  private startKey: Record<string, unknown> | undefined;

  constructor(
    private readonly deps: LogReaderDeps,
    private readonly partitions: readonly Partition[],
    private readonly ascending: boolean,
  ) {
    if (partitions.length === 0) this.exhausted = true;
  }

  /** The next page of entries; empty when a partition (or the source) has been read to its end. */
  async nextPage(): Promise<IndexEntry[]> {
    for (;;) {
      const partition = this.partitions[this.partition];
      if (partition === undefined) {
        this.exhausted = true;
        return [];
      }
      const result = await this.deps.doc.send(
        new QueryCommand({
          TableName: this.deps.tableName,
          KeyConditionExpression: "pk = :pk AND sk BETWEEN :low AND :high",
          ExpressionAttributeValues: { ":pk": partition.pk, ":low": partition.sk[0], ":high": partition.sk[1] },
          ScanIndexForward: this.ascending,
          Limit: QUERY_PAGE_ITEMS,
          ...(this.startKey ? { ExclusiveStartKey: this.startKey } : {}),
        }),
      );
      this.startKey = result.LastEvaluatedKey;
      // Items a newer writer wrote in a shape this reader cannot read are skipped.
      const entries = (result.Items ?? []).flatMap((item) => parseIndexItem(item) ?? []);
      const last = entries[entries.length - 1];
      if (last !== undefined) this.frontier = last.firstId;
      if (this.startKey === undefined) {
        this.partition += 1;
        // An empty day moves the frontier too, so a page need not wait for every older day to be read.
        if (partition.doneFrontier !== undefined && this.partition < this.partitions.length) {
          this.frontier = partition.doneFrontier;
        }
        return entries;
      }
      if (last !== undefined) return entries;
    }
  }
}

/** Which index partitions can hold the query's lines, each with the first-id range to read. */
function planSources(deps: LogReaderDeps, query: ParsedLogQuery, nowSec: number): IndexSource[] {
  const retentionSec = (deps.retentionDays ?? DEFAULT_LOG_RETENTION_DAYS) * 86400;
  const oldestSec = nowSec - retentionSec - 86400;
  const oldestId = lineIdFromTime(Math.max(0, oldestSec), true);
  let low = query.ascending ? query.bound - MAX_SEGMENT_SPAN_ID : 0n;
  if (low < oldestId) low = oldestId;
  const high = query.ascending ? MAX_LINE_ID : query.bound;
  if (high < low) return [];
  const { jobs, nodes, ascending } = query;
  if (jobs !== undefined && nodes !== undefined && jobs.size * nodes.size <= MAX_TASK_SOURCES) {
    return [...jobs].flatMap((job) =>
      [...nodes].map(
        (node) => new IndexSource(deps, [{ pk: logTaskPk(job), sk: firstIdSkRange(low, high, node) }], ascending),
      ),
    );
  }
  if (jobs !== undefined && jobs.size <= MAX_JOB_SOURCES) {
    return [...jobs].map(
      (job) => new IndexSource(deps, [{ pk: logJobPk(job), sk: firstIdSkRange(low, high) }], ascending),
    );
  }
  const lastSec = Math.min(lineIdTimeSec(high), nowSec + 86400);
  const sk = firstIdSkRange(low, high);
  const partitions = dayBuckets(lineIdTimeSec(low), lastSec, ascending).map(({ day, startSec }) => ({
    pk: logTimePk(day),
    sk,
    doneFrontier: ascending ? lineIdFromTime(startSec + SECONDS_PER_DAY, true) : lineIdFromTime(startSec, true) - 1n,
  }));
  return [new IndexSource(deps, partitions, ascending)];
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
