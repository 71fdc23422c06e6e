// Reading a task's pipes line by line: splitting at "\n" and at Bistro's 65000-byte line cap,
// Bistro's per-task log line quota, and backpressure (a pipe is not read while its consumer is busy).

import type { Readable } from "node:stream";

import type { LineSlices } from "../logs/segment-rows";

/** Bistro caps a log line at 65000 bytes (to protect its log store); longer lines arrive as several chunks. */
export const MAX_LINE_BYTES = 65000;

const NEWLINE = 0x0a;

/** UTF-8 continuation bytes look like 0b10xxxxxx. */
function isContinuationByte(byte: number | undefined): boolean {
  return byte !== undefined && (byte & 0xc0) === 0x80;
}

/**
 * Where to cut a too-long line that starts at `start`: at `start + maxBytes`, moved back (at most
 * 3 bytes) to the start of a UTF-8 character so that no chunk ends in half a character. Invalid
 * UTF-8 is cut at the byte limit.
 */
function cutPoint(data: Buffer, start: number, maxBytes: number): number {
  const limit = start + maxBytes;
  let cut = limit;
  while (cut > start && limit - cut < 3 && isContinuationByte(data[cut])) cut -= 1;
  return cut === start || isContinuationByte(data[cut]) ? limit : cut;
}

const NO_BYTES = Buffer.alloc(0);

/** Splits a byte stream into lines without their "\n"; a line longer than `maxBytes` becomes several chunks. */
export class LineSplitter {
  private carry: Buffer = NO_BYTES;

  constructor(private readonly maxBytes: number = MAX_LINE_BYTES) {}

  /**
   * The lines completed by `chunk`, as slices of at most two buffers (no object per line): the
   * line begun in an earlier chunk joined with its end (a small copy), then the rest of `chunk`
   * itself, not copied. What is left (always at most `maxBytes`) waits for more input.
   */
  push(chunk: Buffer): LineSlices[] {
    if (this.carry.length === 0) return this.split(chunk);
    // Only the unfinished line is joined with its end; the rest of the chunk is split in place.
    const newline = chunk.indexOf(NEWLINE);
    const headEnd = newline === -1 ? chunk.length : newline + 1;
    const head = this.split(Buffer.concat([this.carry, chunk.subarray(0, headEnd)]));
    if (headEnd === chunk.length) return head;
    return [...head, ...this.split(chunk.subarray(headEnd))];
  }

  /** Splits `data`, which starts at a line start when the carry is empty, and keeps its rest. */
  private split(data: Buffer): LineSlices[] {
    const bounds: number[] = [];
    let start = 0;
    for (;;) {
      const newline = data.indexOf(NEWLINE, start);
      const end = newline === -1 ? data.length : newline;
      if (end - start > this.maxBytes) {
        const cut = cutPoint(data, start, this.maxBytes);
        bounds.push(start, cut);
        start = cut;
        continue;
      }
      if (newline === -1) break;
      bounds.push(start, newline);
      start = newline + 1;
    }
    // Copy, so that a small rest does not keep a whole 64 KB read buffer alive.
    this.carry = start === data.length ? NO_BYTES : Buffer.from(data.subarray(start));
    return bounds.length === 0 ? [] : [{ data, bounds }];
  }

  /** The unterminated last line at end of input, if any. */
  end(): LineSlices | undefined {
    const rest = this.carry;
    this.carry = NO_BYTES;
    return rest.length > 0 ? { data: rest, bounds: [0, rest.length] } : undefined;
  }
}

/** Line `i` of `lines` alone (for consumers that take lines one at a time). */
export function oneLine(lines: LineSlices, i: number): LineSlices {
  return { data: lines.data, bounds: [lines.bounds[2 * i] ?? 0, lines.bounds[2 * i + 1] ?? 0] };
}

/**
 * Reads `stream` to its end and hands its lines to `onLines`, all the lines of one read at once;
 * when `onLines` returns a promise, the next read waits for it. While it waits, the stream's buffer
 * fills up to its high-water mark and Node stops reading the pipe, so the task blocks on a full pipe
 * instead of the worker buffering its output. A consumer with room returns nothing, and the stream
 * is read without yielding per line. Rejects if the stream fails or `onLines` throws.
 */
export async function forEachLines(
  stream: Readable,
  onLines: (lines: LineSlices) => void | Promise<void>,
  maxLineBytes: number = MAX_LINE_BYTES,
): Promise<void> {
  const splitter = new LineSplitter(maxLineBytes);
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    for (const lines of splitter.push(chunk)) {
      const pending = onLines(lines);
      if (pending) await pending;
    }
  }
  const rest = splitter.end();
  if (rest !== undefined) await onLines(rest);
}

/**
 * Bistro's per-task log line quota (`task_subprocess.max_log_lines_per_poll_interval` per `poll_ms`):
 * stdout and stderr share one allowance that starts at `linesPerInterval` and grows by that much
 * every `pollMs` (uncapped, as Bistro implements it); every line costs one. When it is used up,
 * `take()` waits for the next interval: output is paused, never dropped. `linesPerInterval <= 0`
 * disables the quota.
 */
export class LineQuota {
  private used = 0;
  private readonly startMs: number;
  private readonly pollMs: number;

  /**
   * @param monotonicMs a monotonic clock for measuring intervals (not wall time)
   * @param sleep waits the given milliseconds; injectable so tests need no timers
   */
  constructor(
    private readonly linesPerInterval: number,
    pollMs: number,
    private readonly monotonicMs: () => number = () => performance.now(),
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  ) {
    this.pollMs = Math.max(1, pollMs); // Bistro's minimum poll period
    this.startMs = monotonicMs();
  }

  /** False when the quota is off (`take` then never waits). */
  get enabled(): boolean {
    return this.linesPerInterval > 0;
  }

  /** Resolves once one more line may be forwarded, and counts it. */
  async take(): Promise<void> {
    if (this.linesPerInterval <= 0) return;
    for (;;) {
      const elapsedMs = this.monotonicMs() - this.startMs;
      const intervals = Math.floor(elapsedMs / this.pollMs);
      if ((intervals + 1) * this.linesPerInterval > this.used) {
        this.used += 1;
        return;
      }
      await this.sleep((intervals + 1) * this.pollMs - elapsedMs);
    }
  }
}
