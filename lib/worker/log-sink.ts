// What the worker daemon needs from a log store: the S3 log writer (lib/logs/writer.ts) in
// production, a memory sink in tests, a discarding one when no store is configured.
import type { LogStream, TokenedAttempt } from "../logs/segment";
import type { LineSlices } from "../logs/segment-rows";

/** One output line of one attempt, as the log writer (lib/logs) takes it. */
export interface LogLine {
  job: string;
  node: string;
  attempt: string;
  /** The attempt's token from its start order: readers show only lines whose token checks out. */
  token: string;
  /** stdout or stderr of the task, or `statuses`: its lifecycle (task-statuses.ts). */
  stream: LogStream;
  text: string;
  timeMs: number;
}

/**
 * The part of the S3 log writer the daemon uses. `append` returns nothing while the sink has room,
 * else a promise that resolves when it has (backpressure), or rejects when the line is refused.
 */
export interface LogSink {
  append(line: LogLine): Promise<void> | undefined;
  /** The lines of one read of a task's stdout or stderr, as bytes; answers as `append` does. */
  appendLines(task: TokenedAttempt, stream: LogStream, lines: LineSlices, timeMs: number): Promise<void> | undefined;
  flush(): Promise<void>;
  close(): Promise<void>;
  /** Told when an attempt has ended, so per-task bookkeeping can go (the S3 writer has it). */
  endTask?(task: { job: string; node: string; attempt: string }): void;
}
