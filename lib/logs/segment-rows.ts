// The bytes of segment rows, encoded straight into a growing list of buffers. A line given as a
// string is a row `["<line id>",<time ms>,<JSON string of the text>]\n`. Task output arrives as
// bytes (LineSlices), a pipe read at a time, and is stored as a run: one head row
// `["<first id>",<time ms>,<count>,<id step>]\n`, then the lines' bytes as they are, each ending
// in "\n" (one copy per read, no work per byte). Group layout and indexes: ./segment.ts.

/** Lines held in one buffer: line i is `data[bounds[2i], bounds[2i + 1])`, without its "\n". */
export interface LineSlices {
  data: Buffer;
  bounds: number[];
}

/** The lines of `slices` as strings (invalid UTF-8 decoded as U+FFFD, as everywhere). */
export function sliceTexts(slices: LineSlices): string[] {
  const texts: string[] = [];
  for (let i = 0; i < slices.bounds.length; i += 2) {
    texts.push(slices.data.toString("utf8", slices.bounds[i], slices.bounds[i + 1]));
  }
  return texts;
}

/** Chunks start small (a short task's few lines stay small) and double up to this size. */
const MAX_CHUNK_BYTES = 64 * 1024;
const MIN_CHUNK_BYTES = 256;
/** Raw bytes from this size on may be kept as a slice of the caller's buffer rather than copied. */
const MIN_SHARED_BYTES = 1024;
/** Room kept for a row's head (`["` + 20-digit id + `",` + time + `,` + count + `,` + step + `]\n`). */
const HEAD_ROOM = 64;
const TEN_DIGITS = 1e10;

const QUOTE = 0x22;
const COMMA = 0x2c;
const NEWLINE = 0x0a;
const ROW_END = Buffer.from('"]\n', "latin1");

/** The time of a row as JSON (`JSON.stringify(timeMs)`), encoded once for many rows. */
export function timeBytes(timeMs: number): Buffer {
  return Buffer.from(JSON.stringify(timeMs), "latin1");
}

/** The rows of one group, as a list of buffers written in order (a row may span two of them). */
export class RowChunks {
  private readonly full: Buffer[] = [];
  private chunk: Buffer = Buffer.allocUnsafe(0);
  private pos = 0;
  /** Decimal split of `idSec << 32`: high * 1e10 + low, cached per second. */
  private idSec = -1;
  private idHigh = 0;
  private idLow = 0;

  /** The written bytes, in order. */
  buffers(): Buffer[] {
    return this.pos === 0 ? this.full : [...this.full, this.chunk.subarray(0, this.pos)];
  }

  /**
   * Appends lines `from` to `to` (exclusive) of `lines` as one run: a head row
   * `["<first id>",<time>,<count>,<id step>]` and then each line's bytes as they are, each ending
   * in "\n" (lines that follow each other in `data` are copied at once, with their newlines). The
   * ids are `(sec << 32) + low + k * step` for the k-th line. Lines must not hold a "\n" (as
   * LineSplitter gives them). Returns the bytes written.
   */
  appendRun(sec: number, low: number, step: number, time: Buffer, lines: LineSlices, from: number, to: number): number {
    const { data, bounds } = lines;
    let written = this.runHead(sec, low, step, time, to - from);
    let i = from;
    while (i < to) {
      const start = bounds[2 * i] ?? 0;
      let end = bounds[2 * i + 1] ?? 0;
      i += 1;
      while (i < to && data[end] === NEWLINE && bounds[2 * i] === end + 1) {
        end = bounds[2 * i + 1] ?? 0;
        i += 1;
      }
      if (data[end] === NEWLINE) {
        written += this.appendRaw(data, start, end + 1);
      } else {
        // The last line of a read, or a piece of a line cut at the length cap: its "\n" is added.
        written += this.appendRaw(data, start, end);
        if (this.pos === this.chunk.length) this.roll(1);
        this.chunk[this.pos++] = NEWLINE;
        written += 1;
      }
    }
    return written;
  }

  /** Appends a row holding `text` (a JS string, escaped by JSON.stringify); returns the bytes written. */
  appendText(sec: number, low: number, time: Buffer, text: string): number {
    const written = this.head(sec, low, time) + this.appendString(JSON.stringify(text).slice(1, -1));
    return written + this.appendBuffer(ROW_END);
  }

  /** `["<id>",<time>,<count>,<step>]\n`: the head of a run. */
  private runHead(sec: number, low: number, step: number, time: Buffer, count: number): number {
    const start = this.headStart(sec, low, time);
    const chunk = this.chunk;
    this.writeDigits(count, 0);
    chunk[this.pos++] = COMMA;
    this.writeDigits(step, 0);
    chunk[this.pos++] = 0x5d; // ]
    chunk[this.pos++] = NEWLINE;
    return this.pos - start;
  }

  /** `["<id>",<time>,"`: everything up to the text. */
  private head(sec: number, low: number, time: Buffer): number {
    const start = this.headStart(sec, low, time);
    this.chunk[this.pos++] = QUOTE;
    return this.pos - start;
  }

  /** `["<id>",<time>,`, with room after it for the rest of a head; returns where it started. */
  private headStart(sec: number, low: number, time: Buffer): number {
    if (this.chunk.length - this.pos < HEAD_ROOM + time.length) this.roll(HEAD_ROOM + time.length);
    const start = this.pos;
    const chunk = this.chunk;
    chunk[this.pos++] = 0x5b; // [
    chunk[this.pos++] = QUOTE;
    this.writeId(sec, low);
    chunk[this.pos++] = QUOTE;
    chunk[this.pos++] = COMMA;
    for (let i = 0; i < time.length; i++) chunk[this.pos++] = time[i] ?? 0;
    chunk[this.pos++] = COMMA;
    return start;
  }

  /** The decimal digits of `(sec << 32) | low` (what BigInt#toString gives), without a bigint. */
  private writeId(sec: number, low: number): void {
    if (sec !== this.idSec) {
      const base = BigInt(sec) << 32n;
      this.idSec = sec;
      this.idHigh = Number(base / 10_000_000_000n);
      this.idLow = Number(base % 10_000_000_000n);
    }
    let rest = this.idLow + low; // < 1e10 + 2^32: exact in a double
    let high = this.idHigh;
    if (rest >= TEN_DIGITS) {
      rest -= TEN_DIGITS;
      high += 1;
    }
    // Ten digits as two halves of five, in small-integer arithmetic.
    const upper = Math.floor(rest / 100_000);
    const lower = rest - upper * 100_000;
    if (high > 0) {
      this.writeDigits(high, 0);
      this.writeDigits(upper, 5);
    } else if (upper > 0) {
      this.writeDigits(upper, 0);
    } else {
      this.writeDigits(lower, 0);
      return;
    }
    this.writeDigits(lower, 5);
  }

  /** Writes a non-negative integer below 2^31 in decimal, zero-padded to `width`. */
  private writeDigits(value: number, width: number): void {
    let digits = 1;
    for (let v = value; v >= 10; v = (v / 10) | 0) digits += 1;
    if (digits < width) digits = width;
    const chunk = this.chunk;
    let v = value;
    for (let i = this.pos + digits - 1; i >= this.pos; i--) {
      const next = (v / 10) | 0;
      chunk[i] = 0x30 + v - next * 10;
      v = next;
    }
    this.pos += digits;
  }

  /**
   * Appends `data[start, end)` as it is. A slice that is most of its buffer is kept, not copied
   * (the segment's one copy is `build`'s); a smaller one is copied, so it does not keep its buffer.
   */
  private appendRaw(data: Buffer, start: number, end: number): number {
    if (end - start >= MIN_SHARED_BYTES && 2 * (end - start) >= data.buffer.byteLength) {
      if (this.pos > 0) {
        this.full.push(this.chunk.subarray(0, this.pos));
        this.chunk = this.chunk.subarray(this.pos);
        this.pos = 0;
      }
      this.full.push(data.subarray(start, end));
      return end - start;
    }
    let offset = start;
    while (offset < end) {
      if (this.pos === this.chunk.length) this.roll(end - offset);
      const n = data.copy(this.chunk, this.pos, offset, end);
      this.pos += n;
      offset += n;
    }
    return end - start;
  }

  private appendString(text: string): number {
    // A UTF-16 unit takes at most 3 bytes of UTF-8.
    if (this.chunk.length - this.pos >= text.length * 3) {
      const bytes = this.chunk.write(text, this.pos, "utf8");
      this.pos += bytes;
      return bytes;
    }
    return this.appendBuffer(Buffer.from(text, "utf8"));
  }

  private appendBuffer(bytes: Buffer): number {
    if (this.chunk.length - this.pos >= bytes.length && bytes.length <= 16) {
      // A native copy costs more than a short loop.
      for (let i = 0; i < bytes.length; i++) this.chunk[this.pos++] = bytes[i] ?? 0;
      return bytes.length;
    }
    let offset = 0;
    while (offset < bytes.length) {
      if (this.pos === this.chunk.length) this.roll(bytes.length - offset);
      const n = bytes.copy(this.chunk, this.pos, offset);
      this.pos += n;
      offset += n;
    }
    return bytes.length;
  }

  /** Closes the current chunk and starts one with room for at least `wanted` bytes (up to the chunk size). */
  private roll(wanted: number): void {
    if (this.pos > 0) this.full.push(this.chunk.subarray(0, this.pos));
    const grown = Math.min(MAX_CHUNK_BYTES, Math.max(MIN_CHUNK_BYTES, this.chunk.length * 2));
    this.chunk = Buffer.allocUnsafe(Math.max(grown, Math.min(MAX_CHUNK_BYTES, wanted), HEAD_ROOM * 2));
    this.pos = 0;
  }
}
