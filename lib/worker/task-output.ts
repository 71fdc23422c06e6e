// Reading a running task's pipes: stdout and stderr line by line into the output sink (under
// Bistro's line quota, with backpressure: a pipe is not read while the sink is busy), the status
// pipe down to its last non-empty line, and the canary pipe until every holder has closed it. The
// first failure is kept for the task's result; the pipes are drained to their end regardless.

import type { Readable } from "node:stream";
import { finished } from "node:stream/promises";

import type { TaskSubprocessOptions } from "../model/config";
import type { LineSlices } from "../logs/segment-rows";
import { errorMessage } from "./error-text";
import { forEachLines, LineQuota, oneLine } from "./output-lines";
import { readStatusPipe } from "./status-pipe";

export type OutputStreamName = "stdout" | "stderr";

/**
 * Receives the lines of one read of a pipe, as bytes, each without its "\n" (a line over 65000
 * bytes comes as several), read at `timeMs` (`now()`). While its promise is pending, that pipe is
 * not read (backpressure); none: go on. It may keep `lines.data`, which is never changed.
 */
export type TaskOutputSink = (stream: OutputStreamName, lines: LineSlices, timeMs: number) => void | Promise<void>;

export class TaskOutput {
  /** The first failure reading a pipe or in the sink, for `TaskResult.outputError`. */
  error: string | undefined;
  /** The last non-empty status line, "\n" stripped, nothing else trimmed. */
  rawStatus: string | undefined;
  private readonly quota: LineQuota;

  constructor(
    private readonly sink: TaskOutputSink,
    subprocess: Pick<TaskSubprocessOptions, "pollMs" | "maxLogLinesPerPollInterval">,
    private readonly now: () => number,
  ) {
    this.quota = new LineQuota(subprocess.maxLogLinesPerPollInterval, subprocess.pollMs);
  }

  noteError(what: string, error: unknown): void {
    this.error ??= `${what}: ${errorMessage(error)}`;
  }

  /** Reads `stream` to its end into the sink; without a quota, a whole read goes at once. */
  async forward(stream: Readable | null, name: OutputStreamName): Promise<void> {
    if (stream === null) return;
    try {
      await forEachLines(stream, (lines) =>
        this.error !== undefined
          ? undefined
          : this.quota.enabled
            ? this.forwardByLine(name, lines)
            : this.deliver(name, lines),
      );
    } catch (error) {
      this.noteError(`Reading ${name} failed`, error);
      stream.destroy();
    }
  }

  private async forwardByLine(name: OutputStreamName, lines: LineSlices): Promise<void> {
    for (let i = 0; i < lines.bounds.length / 2; i++) {
      // After a sink failure the pipe is still drained (a full pipe would block the task), unthrottled.
      if (this.error !== undefined) return;
      await this.quota.take();
      await this.deliver(name, oneLine(lines, i));
    }
  }

  private deliver(name: OutputStreamName, lines: LineSlices): void | Promise<void> {
    try {
      const pending = this.sink(name, lines, this.now());
      // A sink with room answers at once: no promise per read on the fast path.
      if (pending) {
        return pending.catch((error: unknown) => {
          this.noteError("Output sink failed", error);
        });
      }
    } catch (error) {
      this.noteError("Output sink failed", error);
    }
  }

  /**
   * Reads the status pipe to its end. Only the last non-empty line is kept, so a chatty status pipe
   * costs no memory; it is read without quota or backpressure (no disk I/O, as in Bistro).
   */
  async readStatus(readFd: number): Promise<void> {
    const stream = readStatusPipe(readFd);
    await forEachLines(stream, ({ data, bounds }) => {
      for (let i = bounds.length - 2; i >= 0; i -= 2) {
        if ((bounds[i + 1] ?? 0) > (bounds[i] ?? 0)) {
          this.rawStatus = data.toString("utf8", bounds[i], bounds[i + 1]);
          return;
        }
      }
    }).catch((error: unknown) => {
      this.noteError("Reading the status pipe failed", error);
      stream.destroy();
    });
  }
}

/** Resolves once every holder of the canary pipe has closed it; what a task writes there is dropped. */
export async function canaryClosed(canary: Readable | null | undefined): Promise<void> {
  if (canary == null) return;
  canary.resume();
  // Only our read side matters; the socket's write side is never used.
  await finished(canary, { writable: false }).catch(() => undefined);
}
