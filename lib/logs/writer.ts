// The log writer of one worker process: it numbers task output lines, caps each task's output,
// batches the lines of many tasks into segment objects (S3 bills per PUT), writes the segment's
// index items (one BatchWriteItem per 25), and pushes back on callers when its buffer is full.
// Format and keys: ./segment.ts, ./keys.ts; design and costs: docs/logs.md.

import { randomBytes } from "node:crypto";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

import { batchWrite, type WriteRequest } from "../store/batch";
import { indexItem, type IndexEntry } from "./index-items";
import {
  dayBucket,
  DEFAULT_LOG_KEY_PREFIX,
  DEFAULT_LOG_RETENTION_DAYS,
  logJobPk,
  logSegmentSk,
  logTaskPk,
  logTaskSk,
  logTimePk,
  MAX_SEGMENT_SPAN_SEC,
  segmentObjectKey,
} from "./keys";
import { LineIdGenerator, lineIdTimeSec, SALT_BITS } from "./line-id";
import {
  isLogStream,
  LOG_STREAMS,
  SegmentBuilder,
  type BuiltSegment,
  type LogStream,
  type StreamRanges,
  type TaskAttempt,
  type TokenedAttempt,
} from "./segment";

/** Time and timers, injectable so tests drive time-based flushes without sleeping. */
export interface LogClock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemLogClock: LogClock = {
  now: () => Date.now(),
  // Timers stay referenced: a process must not exit while a segment or a retry is pending.
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

export interface LogWriterOptions {
  /** A segment is written once it holds this many encoded bytes. Default 1 MiB. */
  segmentBytes?: number;
  /** ... or this long after its first line. Default 5000 ms; at most MAX_SEGMENT_SPAN_SEC. */
  flushIntervalMs?: number;
  /** Lines buffered (open segment + segments being written) beyond which `append` waits. Default 8 MiB. */
  maxBufferBytes?: number;
  /** Bytes of text kept per task attempt and stream; then one marker line, and the rest is dropped. Default 64 MiB. */
  maxTaskStreamBytes?: number;
  /** Index items expire (DynamoDB TTL) this long after their last line. Default 30 (Bistro's --log_retention). */
  retentionDays?: number;
  /** S3 key prefix of segments, expired by the bucket's lifecycle rule. Default "task-logs/". */
  keyPrefix?: string;
  /** Segments written at the same time. Default 2. */
  maxConcurrentUploads?: number;
  /** Tries per segment (PUT, then index) before it is dropped and reported. Default 5. */
  maxWriteAttempts?: number;
  /** Per-task byte counts are forgotten after this long without a line (if `endTask` was not called). Default 1 h. */
  taskIdleForgetMs?: number;
}

export interface LogWriterDeps {
  s3: S3Client;
  doc: DynamoDBDocumentClient;
  tableName: string;
  bucket: string;
  /** The worker this writer belongs to. */
  workerId: string;
  /**
   * The folder its segment objects go in: the worker's IAM user id on AWS (the registration answer
   * names it; the worker policy allows no other folder). Default the worker id.
   */
  logOwner?: string | undefined;
  clock?: LogClock;
  /** Randomness for the line-id salt; default Math.random. Segment names always use crypto randomness. */
  rng?: () => number;
  /** Failures of segments that were dropped after all retries; default: printed to stderr. */
  onError?: (error: unknown) => void;
}

export interface LogLineInput extends TokenedAttempt {
  stream: LogStream;
  /** One line, without its "\n". */
  text: string;
  timeMs: number;
}

export interface LogWriterStats {
  /** Lines accepted into segments (including truncation markers). */
  lines: number;
  /** Lines not stored because their task stream was over its cap. */
  droppedLines: number;
  /** Task streams that hit the cap. */
  truncatedStreams: number;
  segmentsWritten: number;
  s3Puts: number;
  indexItems: number;
  /** Segments given up after `maxWriteAttempts` tries, and their lines. */
  segmentsDropped: number;
  linesLost: number;
  bufferedBytes: number;
}

export class LogWriterClosedError extends Error {
  override readonly name = "LogWriterClosedError";
}

export const TRUNCATION_MARKER_PREFIX = "[sous] output truncated after ";
export const truncationMarker = (bytes: number) => `${TRUNCATION_MARKER_PREFIX}${bytes} bytes`;

const MIB = 1024 * 1024;
const DEFAULTS: Required<LogWriterOptions> = {
  segmentBytes: MIB,
  flushIntervalMs: 5000,
  maxBufferBytes: 8 * MIB,
  maxTaskStreamBytes: 64 * MIB,
  retentionDays: DEFAULT_LOG_RETENTION_DAYS,
  keyPrefix: DEFAULT_LOG_KEY_PREFIX,
  maxConcurrentUploads: 2,
  maxWriteAttempts: 5,
  taskIdleForgetMs: 3600_000,
};

function validated(options: LogWriterOptions): Required<LogWriterOptions> {
  const o = { ...DEFAULTS, ...options };
  const positive = (name: keyof LogWriterOptions, value: number) => {
    if (!Number.isFinite(value) || value <= 0) throw new RangeError(`LogWriter option ${name} must be positive`);
  };
  positive("segmentBytes", o.segmentBytes);
  positive("flushIntervalMs", o.flushIntervalMs);
  positive("maxBufferBytes", o.maxBufferBytes);
  positive("maxTaskStreamBytes", o.maxTaskStreamBytes);
  positive("retentionDays", o.retentionDays);
  positive("maxConcurrentUploads", o.maxConcurrentUploads);
  positive("maxWriteAttempts", o.maxWriteAttempts);
  positive("taskIdleForgetMs", o.taskIdleForgetMs);
  if (o.flushIntervalMs > MAX_SEGMENT_SPAN_SEC * 1000) {
    throw new RangeError(`LogWriter option flushIntervalMs must be at most ${MAX_SEGMENT_SPAN_SEC * 1000}`);
  }
  if (o.maxBufferBytes < o.segmentBytes) throw new RangeError("LogWriter option maxBufferBytes must be ≥ segmentBytes");
  return o;
}

interface TaskStreamState {
  bytes: number;
  truncated: boolean;
  lastLineMs: number;
}

interface SealedSegment {
  name: string;
  built: BuiltSegment;
  /** Bytes this segment holds of the buffer bound. */
  bufferedBytes: number;
}

const taskStreamKey = (task: TaskAttempt, stream: LogStream) =>
  JSON.stringify([task.job, task.node, task.attempt, stream]);

function minFirstId(ranges: StreamRanges): bigint {
  let first: bigint | undefined;
  for (const stream of LOG_STREAMS) {
    const range = ranges[stream];
    if (range !== undefined && (first === undefined || range.firstId < first)) first = range.firstId;
  }
  if (first === undefined) throw new Error("An index entry needs at least one range");
  return first;
}

/** One per worker process. `append` is cheap; awaiting it is what bounds memory. */
export class LogWriter {
  private readonly options: Required<LogWriterOptions>;
  private readonly clock: LogClock;
  private readonly ids: LineIdGenerator;
  /** Unique per writer instance: a restarted worker never overwrites its earlier segments. */
  private readonly segmentNamePrefix: string;
  private readonly onError: (error: unknown) => void;
  private open = new SegmentBuilder();
  private openTimer: unknown;
  private sequence = 0;
  private readonly queue: SealedSegment[] = [];
  private uploading = 0;
  private buffered = 0;
  private readonly roomWaiters: (() => void)[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  private readonly taskStreams = new Map<string, TaskStreamState>();
  private closed = false;
  private readonly counts: Omit<LogWriterStats, "bufferedBytes"> = {
    lines: 0,
    droppedLines: 0,
    truncatedStreams: 0,
    segmentsWritten: 0,
    s3Puts: 0,
    indexItems: 0,
    segmentsDropped: 0,
    linesLost: 0,
  };

  constructor(
    private readonly deps: LogWriterDeps,
    options: LogWriterOptions = {},
  ) {
    this.options = validated(options);
    this.clock = deps.clock ?? systemLogClock;
    const rng = deps.rng ?? Math.random;
    const salt = Math.floor(rng() * (1 << SALT_BITS));
    this.ids = new LineIdGenerator(salt);
    const startSec = Math.floor(this.clock.now() / 1000);
    // Unguessable: index keys embed segment names, and a worker must not be able to aim a write at another's.
    const random = randomBytes(12).toString("base64url");
    this.segmentNamePrefix = `${startSec.toString(36)}${salt.toString(16).padStart(3, "0")}${random}`;
    this.onError =
      deps.onError ??
      ((error: unknown) => {
        console.error("[sous] task log segment lost:", error);
      });
  }

  /**
   * Takes one line. Resolves at once while the buffer has room; otherwise stays pending until
   * segments have been written and freed enough (the line itself is already taken). Rejects only
   * after `close()`.
   */
  append(line: LogLineInput): Promise<void> {
    if (this.closed) return Promise.reject(new LogWriterClosedError("LogWriter is closed"));
    if (!isLogStream(line.stream)) return Promise.reject(new TypeError(`Unknown log stream: ${String(line.stream)}`));
    const text = this.capped(line);
    if (text !== undefined) this.add(line, text);
    return this.room();
  }

  /** Writes everything appended so far; resolves when those segments are written (or dropped). */
  async flush(): Promise<void> {
    this.seal();
    await this.uploadsSettled();
  }

  /** Flushes, then refuses further lines. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  /** Resolves once no sealed segment is waiting or being written; the open segment is left alone. */
  uploadsSettled(): Promise<void> {
    if (this.uploading === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Forgets a finished task's byte counts (otherwise they go after `taskIdleForgetMs`). */
  endTask(task: TaskAttempt): void {
    for (const stream of LOG_STREAMS) this.taskStreams.delete(taskStreamKey(task, stream));
  }

  stats(): LogWriterStats {
    return { ...this.counts, bufferedBytes: this.buffered };
  }

  /** The text to store for this line: itself, the truncation marker, or nothing. */
  private capped(line: LogLineInput): string | undefined {
    const key = taskStreamKey(line, line.stream);
    let state = this.taskStreams.get(key);
    if (state === undefined) {
      state = { bytes: 0, truncated: false, lastLineMs: 0 };
      this.taskStreams.set(key, state);
    }
    state.lastLineMs = this.clock.now();
    if (state.truncated) {
      this.counts.droppedLines += 1;
      return undefined;
    }
    const bytes = Buffer.byteLength(line.text);
    if (state.bytes + bytes > this.options.maxTaskStreamBytes) {
      state.truncated = true;
      this.counts.droppedLines += 1;
      this.counts.truncatedStreams += 1;
      return truncationMarker(state.bytes);
    }
    state.bytes += bytes;
    return line.text;
  }

  private add(line: LogLineInput, text: string): void {
    const id = this.ids.next(line.timeMs);
    const first = this.open.firstId;
    // Keeps every segment within MAX_SEGMENT_SPAN_SEC even when timers run late; readers rely on it.
    if (first !== undefined && lineIdTimeSec(id) - lineIdTimeSec(first) >= MAX_SEGMENT_SPAN_SEC) this.seal();
    const task = { job: line.job, node: line.node, attempt: line.attempt, token: line.token };
    this.buffered += this.open.add(task, line.stream, id, line.timeMs, text);
    this.counts.lines += 1;
    if (this.open.lines === 1) {
      this.openTimer = this.clock.setTimeout(() => {
        this.openTimer = undefined;
        this.seal();
      }, this.options.flushIntervalMs);
    }
    if (this.open.bytes >= this.options.segmentBytes || this.buffered >= this.options.maxBufferBytes) this.seal();
  }

  private room(): Promise<void> {
    if (this.buffered < this.options.maxBufferBytes) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  private seal(): void {
    if (this.openTimer !== undefined) {
      this.clock.clearTimeout(this.openTimer);
      this.openTimer = undefined;
    }
    if (this.open.lines === 0) return;
    const bufferedBytes = this.open.bytes;
    const built = this.open.build();
    this.open = new SegmentBuilder();
    const name = `${this.segmentNamePrefix}-${(this.sequence++).toString(36).padStart(5, "0")}`;
    this.queue.push({ name, built, bufferedBytes });
    this.forgetIdleTasks();
    this.pump();
  }

  private pump(): void {
    while (this.uploading < this.options.maxConcurrentUploads) {
      const segment = this.queue.shift();
      if (segment === undefined) break;
      this.uploading += 1;
      void this.upload(segment).finally(() => {
        this.uploading -= 1;
        this.buffered -= segment.bufferedBytes;
        if (this.buffered < this.options.maxBufferBytes) {
          for (const resolve of this.roomWaiters.splice(0)) resolve();
        }
        this.pump();
        if (this.uploading === 0 && this.queue.length === 0) {
          for (const resolve of this.idleWaiters.splice(0)) resolve();
        }
      });
    }
  }

  /** PUT first, index second: an index item never names an object that was not written. */
  private async upload(segment: SealedSegment): Promise<void> {
    const key = segmentObjectKey(this.options.keyPrefix, this.deps.logOwner ?? this.deps.workerId, segment.name);
    try {
      await this.withRetries(async () => {
        await this.deps.s3.send(
          new PutObjectCommand({
            Bucket: this.deps.bucket,
            Key: key,
            Body: segment.built.body,
            ContentType: "application/x-ndjson",
          }),
        );
        this.counts.s3Puts += 1;
      });
      const requests = this.indexRequests(key, segment);
      await this.withRetries(() => batchWrite({ doc: this.deps.doc, tableName: this.deps.tableName }, requests));
      this.counts.indexItems += requests.length;
      this.counts.segmentsWritten += 1;
    } catch (error) {
      this.counts.segmentsDropped += 1;
      this.counts.linesLost += segment.built.lines;
      try {
        this.onError(error);
      } catch {
        // A failing reporter must not stall the upload pipeline.
      }
    }
  }

  private indexRequests(segmentKey: string, segment: SealedSegment): WriteRequest[] {
    const { built, name } = segment;
    const expiresAtSec = lineIdTimeSec(built.lastId) + Math.ceil(this.options.retentionDays * 86400);
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

  private async withRetries(write: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await write();
        return;
      } catch (error) {
        if (attempt >= this.options.maxWriteAttempts) throw error;
        const delayMs = Math.min(5000, 200 * 2 ** (attempt - 1));
        await new Promise<void>((resolve) => this.clock.setTimeout(resolve, delayMs));
      }
    }
  }

  private forgetIdleTasks(): void {
    const cutoff = this.clock.now() - this.options.taskIdleForgetMs;
    for (const [key, state] of this.taskStreams) {
      if (state.lastLineMs < cutoff) this.taskStreams.delete(key);
    }
  }
}
