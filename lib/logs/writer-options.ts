// The log writer's interface types (dependencies, lines, stats, errors), its options with their
// defaults and validation, and its injectable clock. The writer itself: ./writer.ts.

import type { S3Client } from "@aws-sdk/client-s3";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

import type { LogStream, TokenedAttempt } from "./segment";
import { DEFAULT_LOG_KEY_PREFIX, DEFAULT_LOG_RETENTION_DAYS, MAX_SEGMENT_SPAN_SEC } from "./keys";

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
  /** A segment is written once it holds this many encoded bytes. Default 2 MiB. */
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
  /** Segments written at the same time (PUT and index). Default 4. */
  maxConcurrentUploads?: number;
  /** Tries per segment (PUT, then index) before it is dropped and reported. Default 5. */
  maxWriteAttempts?: number;
  /** Per-task byte counts are forgotten after this long without a line (if `endTask` was not called). Default 1 h. */
  taskIdleForgetMs?: number;
}

const MIB = 1024 * 1024;
export const WRITER_DEFAULTS: Required<LogWriterOptions> = {
  segmentBytes: 2 * MIB,
  flushIntervalMs: 5000,
  maxBufferBytes: 8 * MIB,
  maxTaskStreamBytes: 64 * MIB,
  retentionDays: DEFAULT_LOG_RETENTION_DAYS,
  keyPrefix: DEFAULT_LOG_KEY_PREFIX,
  maxConcurrentUploads: 4,
  maxWriteAttempts: 5,
  taskIdleForgetMs: 3600_000,
};

export function validatedWriterOptions(options: LogWriterOptions): Required<LogWriterOptions> {
  const o = { ...WRITER_DEFAULTS, ...options };
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
  /** Bytes of the segment objects written. */
  s3PutBytes: number;
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
