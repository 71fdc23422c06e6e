// The upload side of the log writer: sealed segments queue here, at most `maxConcurrentUploads` are
// PUT at once, and each segment's index items are written after its PUT (so an index item never
// names an object that was not written). It also keeps the buffer bound: bytes count from the
// line that adds them until their segment's PUT ends, and callers wait here for room.

import { PutObjectCommand } from "@aws-sdk/client-s3";

import { retryOnError, type RetryEnv } from "../retry";
import { batchWrite, type WriteRequest } from "../store/batch";
import { segmentIndexRequests } from "./index-items";
import { SegmentBodies } from "./segment-bodies";
import { segmentObjectKey } from "./keys";
import type { BuiltSegment } from "./segment";
import type { LogClock, LogWriterDeps, LogWriterOptions, LogWriterStats } from "./writer-options";

interface SealedSegment {
  name: string;
  /** Dropped once the PUT is done, so a pending index write does not hold the body. */
  built: BuiltSegment | undefined;
  lines: number;
  /** Bytes this segment holds of the buffer bound. */
  bufferedBytes: number;
  /** Settles once the segment sealed before this one is indexed (or dropped). */
  turn: Promise<void>;
  /** Marks this segment indexed or dropped: the next one may index. */
  done: () => void;
}

export type UploadCounts = Pick<
  LogWriterStats,
  "segmentsWritten" | "s3Puts" | "s3PutBytes" | "indexItems" | "segmentsDropped" | "linesLost"
>;

/** A segment is sealed once past its size, so it may hold one more read of a pipe (64 KiB) or line. */
const BODY_SLACK_BYTES = 256 * 1024;

/** Waits between tries of a PUT or an index write: 200 ms, doubling, at most 5 s (with jitter). */
const WRITE_BACKOFF = { baseMs: 200, capMs: 5000 } as const;

export class SegmentUploads {
  private readonly queue: SealedSegment[] = [];
  private uploading = 0;
  /** Index writes in flight: they run after their PUT, outside the upload slots. */
  private indexing = 0;
  private buffered = 0;
  /** Settles once the last segment enqueued is indexed or dropped. */
  private lastDone: Promise<void> = Promise.resolve();
  private readonly roomWaiters: (() => void)[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  private readonly retryEnv: RetryEnv;
  /** Where sealed segments' bodies are built; a body goes back once its PUT has ended. */
  readonly bodies: SegmentBodies;
  readonly counts: UploadCounts = {
    segmentsWritten: 0,
    s3Puts: 0,
    s3PutBytes: 0,
    indexItems: 0,
    segmentsDropped: 0,
    linesLost: 0,
  };

  constructor(
    private readonly deps: LogWriterDeps,
    private readonly options: Required<LogWriterOptions>,
    clock: LogClock,
    private readonly onError: (error: unknown) => void,
  ) {
    this.bodies = new SegmentBodies(options.segmentBytes + BODY_SLACK_BYTES, options.maxConcurrentUploads);
    this.retryEnv = {
      random: deps.rng ?? Math.random,
      sleep: (ms) => new Promise<void>((resolve) => clock.setTimeout(resolve, ms)),
    };
  }

  /** Bytes taken and not yet written. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Counts bytes the open segment took against the bound. */
  add(bytes: number): void {
    this.buffered += bytes;
  }

  full(): boolean {
    return this.buffered >= this.options.maxBufferBytes;
  }

  /** Resolves once the buffer is below its bound. */
  room(): Promise<void> {
    if (!this.full()) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /** Queues a sealed segment (holding `bufferedBytes` of the bound) and starts what may start. */
  enqueue(name: string, built: BuiltSegment, bufferedBytes: number): void {
    let done = () => {};
    const turn = this.lastDone;
    this.lastDone = new Promise<void>((resolve) => (done = resolve));
    this.queue.push({ name, built, lines: built.lines, bufferedBytes, turn, done });
    this.pump();
  }

  /** Resolves once no sealed segment is waiting or being written. */
  settled(): Promise<void> {
    if (this.idle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private idle(): boolean {
    return this.uploading === 0 && this.indexing === 0 && this.queue.length === 0;
  }

  private pump(): void {
    while (this.uploading < this.options.maxConcurrentUploads) {
      const segment = this.queue.shift();
      if (segment === undefined) break;
      this.uploading += 1;
      void this.upload(segment);
    }
  }

  /**
   * PUT, then index. Once the PUT is done the segment gives up its upload slot and its share of the
   * buffer, and its body is dropped, so the index write never holds up task output. PUTs run
   * concurrently, but index writes go in sealing order: a writer's lines become readable in id
   * order, so a reader's cursor never passes a line of this writer that is still on its way.
   */
  private async upload(segment: SealedSegment): Promise<void> {
    const key = segmentObjectKey(this.options.keyPrefix, this.deps.logOwner ?? this.deps.workerId, segment.name);
    let requests: WriteRequest[] | undefined;
    try {
      requests = await this.putSegment(key, segment);
    } catch (error) {
      this.dropped(segment, error);
    } finally {
      if (segment.built !== undefined) this.bodies.give(segment.built.body);
      segment.built = undefined;
      this.uploading -= 1;
      this.buffered -= segment.bufferedBytes;
      if (!this.full()) for (const resolve of this.roomWaiters.splice(0)) resolve();
      this.pump();
    }
    this.indexing += 1;
    try {
      await segment.turn;
      if (requests !== undefined) {
        const written = requests;
        await this.withRetries(() => batchWrite({ doc: this.deps.doc, tableName: this.deps.tableName }, written));
        this.counts.indexItems += written.length;
        this.counts.segmentsWritten += 1;
      }
    } catch (error) {
      this.dropped(segment, error);
    } finally {
      this.indexing -= 1;
      segment.done();
    }
    if (this.idle()) for (const resolve of this.idleWaiters.splice(0)) resolve();
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
          ContentType: "application/octet-stream",
        }),
      );
      this.counts.s3Puts += 1;
      this.counts.s3PutBytes += built.body.length;
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

  private withRetries(write: () => Promise<void>): Promise<void> {
    const policy = { attempts: this.options.maxWriteAttempts, ...WRITE_BACKOFF };
    return retryOnError(write, () => true, policy, this.retryEnv);
  }
}
