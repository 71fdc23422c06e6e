// The log writer of one worker process: it numbers task output lines, caps each task's output,
// batches the lines of many tasks into segment objects (S3 bills per PUT), and seals them for
// ./segment-uploads.ts, which writes them and their index items and bounds the buffer (callers
// wait on it when full). Options: ./writer-options.ts; format and keys: ./segment.ts, ./keys.ts,
// ./index-items.ts; design and costs: docs/logs.md.

import { randomBytes } from "node:crypto";

import { SegmentUploads } from "./segment-uploads";
import { timeBytes, type LineSlices } from "./segment-rows";
import { MAX_SEGMENT_SPAN_SEC } from "./keys";
import { ID_STEP, LineIdGenerator, lineIdFromParts, SALT_BITS } from "./line-id";
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
  type LogStream,
  type TaskAttempt,
  type TokenedAttempt,
} from "./segment";

interface TaskStreamState {
  bytes: number;
  truncated: boolean;
  lastLineMs: number;
}

/** The bytes of lines `from` to `to` (exclusive) of `bounds`. */
function textBytes(bounds: number[], from: number, to: number): number {
  let bytes = 0;
  for (let i = from; i < to; i++) bytes += (bounds[2 * i + 1] ?? 0) - (bounds[2 * i] ?? 0);
  return bytes;
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
  private readonly uploads: SegmentUploads;
  private readonly taskStreams = new Map<string, TaskStreamState>();
  private lastStream: (TaskAttempt & { stream: LogStream; key: string; state: TaskStreamState }) | undefined;
  private closed = false;
  private lastTime: { ms: number; bytes: Buffer } = { ms: NaN, bytes: Buffer.alloc(0) };
  private readonly counts: Pick<LogWriterStats, "lines" | "droppedLines" | "truncatedStreams"> = {
    lines: 0,
    droppedLines: 0,
    truncatedStreams: 0,
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
    this.uploads = new SegmentUploads(deps, this.options, this.clock, this.onError);
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
   * does for each, stored as runs (one copy of the read, no string per line). The caps count bytes
   * as read. The whole read is taken, so the buffer may pass its bound by one read per task stream;
   * then the returned promise waits for room, as `append`'s does. Lines must not hold a "\n", and
   * `lines.data` must not change afterwards: the writer may keep slices of it until they are written.
   */
  appendLines(task: TokenedAttempt, stream: LogStream, lines: LineSlices, timeMs: number): Promise<void> | undefined {
    if (this.closed) return Promise.reject(new LogWriterClosedError("LogWriter is closed"));
    if (!isLogStream(stream)) return Promise.reject(new TypeError(`Unknown log stream: ${String(stream)}`));
    const state = this.taskStreamState(task, stream);
    state.lastLineMs = this.clock.now();
    const { bounds } = lines;
    const count = bounds.length / 2;
    let time: Buffer | undefined;
    let i = 0;
    while (i < count) {
      if (state.truncated) {
        this.counts.droppedLines += count - i;
        break;
      }
      // The lines from i on that fit under the cap.
      let fit = i;
      let bytes = state.bytes;
      while (fit < count) {
        const lineBytes = (bounds[2 * fit + 1] ?? 0) - (bounds[2 * fit] ?? 0);
        if (bytes + lineBytes > this.options.maxTaskStreamBytes) break;
        bytes += lineBytes;
        fit += 1;
      }
      if (fit === i) {
        this.truncate(state, task, stream, timeMs);
        i += 1;
        continue;
      }
      // One run per second of ids (a read rarely spans two: only past 2^20 lines in one second).
      const taken = this.ids.advanceRun(timeMs, fit - i);
      this.sealIfTooLong();
      time ??= this.timeBytes(timeMs);
      const end = i + taken;
      state.bytes = taken === fit - i ? bytes : state.bytes + textBytes(bounds, i, end);
      const added = this.open.addRun(task, stream, this.ids.sec, this.ids.low, ID_STEP, time, lines, i, end);
      this.added(added, taken);
      i = end;
    }
    return this.sealIfFull();
  }

  /** `timeBytes(timeMs)`, kept for the next read: reads come faster than the clock ticks. */
  private timeBytes(timeMs: number): Buffer {
    if (timeMs !== this.lastTime.ms) this.lastTime = { ms: timeMs, bytes: timeBytes(timeMs) };
    return this.lastTime.bytes;
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
    return this.uploads.settled();
  }

  /** Forgets a finished task's byte counts (otherwise they go after `taskIdleForgetMs`). */
  endTask(task: TaskAttempt): void {
    for (const stream of LOG_STREAMS) this.taskStreams.delete(taskStreamKey(task, stream));
  }

  stats(): LogWriterStats {
    return { ...this.counts, ...this.uploads.counts, bufferedBytes: this.uploads.bufferedBytes };
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

  /** Counts lines the open segment took (`bytes` encoded) and seals the segment when it is due. */
  private added(bytes: number, lines = 1): void {
    this.uploads.add(bytes);
    this.counts.lines += lines;
    if (this.open.lines === lines) {
      this.openTimer = this.clock.setTimeout(() => {
        this.openTimer = undefined;
        this.seal();
      }, this.options.flushIntervalMs);
    }
    if (this.open.bytes >= this.options.segmentBytes) this.seal();
  }

  /** Past the buffer bound, the open segment goes too: waiting callers need written segments to free room. */
  private sealIfFull(): Promise<void> | undefined {
    if (!this.uploads.full()) return undefined;
    this.seal();
    return this.uploads.room();
  }

  private seal(): void {
    if (this.openTimer !== undefined) {
      this.clock.clearTimeout(this.openTimer);
      this.openTimer = undefined;
    }
    if (this.open.lines === 0) return;
    const bufferedBytes = this.open.bytes;
    const built = this.open.build((length) => this.uploads.bodies.take(length));
    this.open = new SegmentBuilder();
    const name = `${this.segmentNamePrefix}-${(this.sequence++).toString(36).padStart(5, "0")}`;
    this.uploads.enqueue(name, built, bufferedBytes);
    this.forgetIdleTasks();
  }

  private forgetIdleTasks(): void {
    const cutoff = this.clock.now() - this.options.taskIdleForgetMs;
    for (const [key, state] of this.taskStreams) {
      if (state.lastLineMs < cutoff) this.taskStreams.delete(key);
    }
  }
}
