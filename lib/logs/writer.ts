// The log writer of one worker process: it numbers task output lines, caps each task's output,
// batches the lines of many tasks into segment objects (S3 bills per PUT), writes the segment's
// index items (one BatchWriteItem per 25), and pushes back on callers when its buffer is full.
// Options: ./writer-options.ts; format and keys: ./segment.ts, ./keys.ts, ./index-items.ts;
// design and costs: docs/logs.md.

import { randomBytes } from "node:crypto";
import { PutObjectCommand } from "@aws-sdk/client-s3";

import { batchWrite, type WriteRequest } from "../store/batch";
import { segmentIndexRequests } from "./index-items";
import { timeBytes, type LineSlices } from "./segment-rows";
import { MAX_SEGMENT_SPAN_SEC, segmentObjectKey } from "./keys";
import { LineIdGenerator, lineIdFromParts, SALT_BITS } from "./line-id";
import {
  LogWriterClosedError,
  systemLogClock,
  truncationMarker,
  validatedWriterOptions,
  type LogClock,
  type LogLineInput,
  type LogWriterDeps,
  type LogWriterOptions,
  type LogWriterStats,
} from "./writer-options";

export {
  LogWriterClosedError,
  systemLogClock,
  TRUNCATION_MARKER_PREFIX,
  truncationMarker,
  type LogClock,
  type LogLineInput,
  type LogWriterDeps,
  type LogWriterOptions,
  type LogWriterStats,
} from "./writer-options";
import {
  isLogStream,
  LOG_STREAMS,
  SegmentBuilder,
  type BuiltSegment,
  type LogStream,
  type TaskAttempt,
  type TokenedAttempt,
} from "./segment";

interface TaskStreamState {
  bytes: number;
  truncated: boolean;
  lastLineMs: number;
}

interface SealedSegment {
  name: string;
  /** Dropped once the PUT is done, so a pending index write does not hold the body. */
  built: BuiltSegment | undefined;
  lines: number;
  /** Bytes this segment holds of the buffer bound. */
  bufferedBytes: number;
  /** Its bytes no longer count against the bound (written, or given up). */
  released: boolean;
}

const taskStreamKey = (task: TaskAttempt, stream: LogStream) =>
  JSON.stringify([task.job, task.node, task.attempt, stream]);

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
  /** Index writes in flight: they run after their PUT, outside the upload slots. */
  private indexing = 0;
  private buffered = 0;
  private readonly roomWaiters: (() => void)[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  private readonly taskStreams = new Map<string, TaskStreamState>();
  private lastStream: (TaskAttempt & { stream: LogStream; key: string; state: TaskStreamState }) | undefined;
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
    this.options = validatedWriterOptions(options);
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
  append(line: LogLineInput): Promise<void> | undefined {
    if (this.closed) return Promise.reject(new LogWriterClosedError("LogWriter is closed"));
    if (!isLogStream(line.stream)) return Promise.reject(new TypeError(`Unknown log stream: ${String(line.stream)}`));
    const text = this.capped(line);
    if (text !== undefined) this.add(line, text);
    // Nothing to wait for while there is room: no promise per line on the fast path.
    return this.sealIfFull();
  }

  /**
   * Takes the lines of one read of a task's output, as bytes, all read at `timeMs`: what `append`
   * does for each, without a string per line. The caps count bytes as read. The whole read is
   * taken, so the buffer may pass its bound by one read per task stream; then the returned promise
   * waits for room, as `append`'s does.
   */
  appendLines(task: TokenedAttempt, stream: LogStream, lines: LineSlices, timeMs: number): Promise<void> | undefined {
    if (this.closed) return Promise.reject(new LogWriterClosedError("LogWriter is closed"));
    if (!isLogStream(stream)) return Promise.reject(new TypeError(`Unknown log stream: ${String(stream)}`));
    const state = this.taskStreamState(task, stream);
    state.lastLineMs = this.clock.now();
    const { data, bounds } = lines;
    const time = timeBytes(timeMs);
    for (let i = 0; i < bounds.length; i += 2) {
      const start = bounds[i] ?? 0;
      const end = bounds[i + 1] ?? 0;
      if (state.truncated) {
        this.counts.droppedLines += (bounds.length - i) / 2;
        break;
      }
      if (state.bytes + end - start > this.options.maxTaskStreamBytes) {
        this.truncate(state, task, stream, timeMs);
        continue;
      }
      state.bytes += end - start;
      this.ids.advance(timeMs);
      this.sealIfTooLong();
      this.added(this.open.addBytes(task, stream, this.ids.sec, this.ids.low, time, data, start, end));
    }
    return this.sealIfFull();
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
    if (this.idle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private idle(): boolean {
    return this.uploading === 0 && this.indexing === 0 && this.queue.length === 0;
  }

  private wakeIdleWaiters(): void {
    if (this.idle()) for (const resolve of this.idleWaiters.splice(0)) resolve();
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
    const state = this.taskStreamState(line, line.stream);
    state.lastLineMs = this.clock.now();
    if (state.truncated) {
      this.counts.droppedLines += 1;
      return undefined;
    }
    const bytes = Buffer.byteLength(line.text);
    if (state.bytes + bytes > this.options.maxTaskStreamBytes) {
      this.markTruncated(state);
      return truncationMarker(state.bytes);
    }
    state.bytes += bytes;
    return line.text;
  }

  /** The line that would pass the cap is dropped, and the stream is closed to further lines. */
  private markTruncated(state: TaskStreamState): void {
    state.truncated = true;
    this.counts.droppedLines += 1;
    this.counts.truncatedStreams += 1;
  }

  /** `appendLines`' cap: the marker line goes in place of the line that passed it. */
  private truncate(state: TaskStreamState, task: TokenedAttempt, stream: LogStream, timeMs: number): void {
    this.markTruncated(state);
    const marker = truncationMarker(state.bytes);
    this.added(this.open.add(task, stream, this.nextId(timeMs), timeMs, marker));
  }

  /** The byte count of a task stream; consecutive lines of one stream skip the map. */
  private taskStreamState(task: TaskAttempt, stream: LogStream): TaskStreamState {
    const last = this.lastStream;
    if (
      last !== undefined &&
      last.stream === stream &&
      last.job === task.job &&
      last.node === task.node &&
      last.attempt === task.attempt &&
      this.taskStreams.get(last.key) === last.state
    ) {
      return last.state;
    }
    const key = taskStreamKey(task, stream);
    let state = this.taskStreams.get(key);
    if (state === undefined) {
      state = { bytes: 0, truncated: false, lastLineMs: 0 };
      this.taskStreams.set(key, state);
    }
    this.lastStream = { job: task.job, node: task.node, attempt: task.attempt, stream, key, state };
    return state;
  }

  private add(line: LogLineInput, text: string): void {
    const id = this.nextId(line.timeMs);
    this.added(this.open.add(line, line.stream, id, line.timeMs, text));
  }

  /** The next line id; seals the open segment first if the id would make it span too long. */
  private nextId(timeMs: number): bigint {
    this.ids.advance(timeMs);
    this.sealIfTooLong();
    return lineIdFromParts(this.ids.sec, this.ids.low);
  }

  /** Keeps every segment within MAX_SEGMENT_SPAN_SEC even when timers run late; readers rely on it. */
  private sealIfTooLong(): void {
    const first = this.open.firstSec;
    if (first !== undefined && this.ids.sec - first >= MAX_SEGMENT_SPAN_SEC) this.seal();
  }

  /** Counts a line the open segment took (`bytes` encoded) and seals the segment when it is due. */
  private added(bytes: number): void {
    this.buffered += bytes;
    this.counts.lines += 1;
    if (this.open.lines === 1) {
      this.openTimer = this.clock.setTimeout(() => {
        this.openTimer = undefined;
        this.seal();
      }, this.options.flushIntervalMs);
    }
    if (this.open.bytes >= this.options.segmentBytes) this.seal();
  }

  /** Past the buffer bound, the open segment goes too: waiting callers need written segments to free room. */
  private sealIfFull(): Promise<void> | undefined {
    if (this.buffered < this.options.maxBufferBytes) return undefined;
    this.seal();
    return this.room();
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
    this.queue.push({ name, built, lines: built.lines, bufferedBytes, released: false });
    this.forgetIdleTasks();
    this.pump();
  }

  private pump(): void {
    while (this.uploading < this.options.maxConcurrentUploads) {
      const segment = this.queue.shift();
      if (segment === undefined) break;
      this.uploading += 1;
      void this.upload(segment);
    }
  }

  /** Frees the segment's share of the buffer (once): its body is no longer needed. */
  private release(segment: SealedSegment): void {
    if (segment.released) return;
    segment.released = true;
    this.buffered -= segment.bufferedBytes;
    if (this.buffered < this.options.maxBufferBytes) {
      for (const resolve of this.roomWaiters.splice(0)) resolve();
    }
  }

  /**
   * PUT first, index second: an index item never names an object that was not written. Once the PUT
   * is done the segment gives up its upload slot and its share of the buffer, and its body is
   * dropped, so the index write (small, and slower on some days) never holds up task output.
   */
  private async upload(segment: SealedSegment): Promise<void> {
    const key = segmentObjectKey(this.options.keyPrefix, this.deps.logOwner ?? this.deps.workerId, segment.name);
    let requests: WriteRequest[] | undefined;
    try {
      requests = await this.putSegment(key, segment);
    } catch (error) {
      this.dropped(segment, error);
    } finally {
      segment.built = undefined;
      this.uploading -= 1;
      this.release(segment);
      this.pump();
    }
    if (requests !== undefined) {
      this.indexing += 1;
      try {
        const written = requests;
        await this.withRetries(() => batchWrite({ doc: this.deps.doc, tableName: this.deps.tableName }, written));
        this.counts.indexItems += requests.length;
        this.counts.segmentsWritten += 1;
      } catch (error) {
        this.dropped(segment, error);
      } finally {
        this.indexing -= 1;
      }
    }
    this.wakeIdleWaiters();
  }

  /** The PUT, with retries; returns the segment's index requests. No closure here outlives it. */
  private async putSegment(key: string, segment: SealedSegment): Promise<WriteRequest[]> {
    const built = segment.built;
    if (built === undefined) throw new Error(`Segment ${segment.name} was uploaded twice`);
    await this.withRetries(async () => {
      await this.deps.s3.send(
        new PutObjectCommand({
          Bucket: this.deps.bucket,
          Key: key,
          Body: built.body,
          ContentType: "application/x-ndjson",
        }),
      );
      this.counts.s3Puts += 1;
    });
    return segmentIndexRequests(key, segment.name, built, this.options.retentionDays);
  }

  private dropped(segment: SealedSegment, error: unknown): void {
    this.counts.segmentsDropped += 1;
    this.counts.linesLost += segment.lines;
    try {
      this.onError(error);
    } catch {
      // A failing reporter must not stall the upload pipeline.
    }
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
