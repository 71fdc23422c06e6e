// The bytes of segment rows: `["<line id>",<time ms>,<JSON string of the text>]\n`, encoded
// straight into a growing list of buffers. Task output arrives as bytes (LineSlices) and is copied
// and JSON-escaped byte by byte, with no string per line; the result is byte for byte what
// JSON.stringify of the decoded text gives. Group layout and indexes: ./segment.ts.

import { isUtf8 } from "node:buffer";

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
/** Room kept for a row's head (`["` + 20-digit id + `",` + time + `,"`) and for one escape. */
const HEAD_ROOM = 64;
const ESCAPE_ROOM = 6;
const TEN_DIGITS = 1e10;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** For bytes below 0x80: 0 copies as is, else the byte JSON.stringify escapes it with (`u` = \u00XX). */
const ESCAPES = new Uint8Array(0x80);
for (let b = 0; b < 0x20; b++) ESCAPES[b] = 0x75; // u
ESCAPES[0x08] = 0x62; // \b
ESCAPES[0x09] = 0x74; // \t
ESCAPES[0x0a] = 0x6e; // \n
ESCAPES[0x0c] = 0x66; // \f
ESCAPES[0x0d] = 0x72; // \r
ESCAPES[QUOTE] = QUOTE;
ESCAPES[BACKSLASH] = BACKSLASH;
/** 1 for bytes the copy loop stops at: those JSON escapes, and non-ASCII until the line is known valid UTF-8. */
const SPECIAL_UTF8 = new Uint8Array(0x100);
for (let b = 0; b < 0x80; b++) SPECIAL_UTF8[b] = ESCAPES[b] === 0 ? 0 : 1;
const SPECIAL_ASCII = new Uint8Array(0x100).fill(1);
SPECIAL_ASCII.set(SPECIAL_UTF8.subarray(0, 0x80));
const HEX = Buffer.from("0123456789abcdef", "latin1");
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

  /** Appends a row whose text is `data[start, end)`, escaped as JSON; returns the bytes written. */
  appendBytes(sec: number, low: number, time: Buffer, data: Buffer, start: number, end: number): number {
    let written = this.head(sec, low, time);
    let special = SPECIAL_ASCII;
    let i = start;
    while (i < end) {
      if (this.chunk.length - this.pos <= ESCAPE_ROOM) this.roll(ESCAPE_ROOM + end - i);
      // The hot loop: copy bytes that need nothing, up to the next special one or the chunk's end.
      const chunk = this.chunk;
      let pos = this.pos;
      const stop = Math.min(end, i + chunk.length - ESCAPE_ROOM - pos);
      while (i < stop) {
        const b = data[i] ?? 0;
        if (special[b] !== 0) break;
        chunk[pos++] = b;
        i++;
      }
      written += pos - this.pos;
      this.pos = pos;
      if (i === stop) continue;
      const b = data[i] ?? 0;
      if (b >= 0x80) {
        // Everything before `i` was ASCII: if the rest is valid UTF-8 it is copied as is (JSON.stringify
        // leaves such characters alone); else the rest goes the string way, which decodes bad bytes as U+FFFD.
        if (!isUtf8(data.subarray(i, end))) {
          written += this.appendString(JSON.stringify(data.toString("utf8", i, end)).slice(1, -1));
          return written + this.appendBuffer(ROW_END);
        }
        special = SPECIAL_UTF8;
        continue;
      }
      written += this.escape(b);
      i++;
    }
    return written + this.appendBuffer(ROW_END);
  }

  /** Writes JSON.stringify's escape of ASCII byte `b` (there is room for it). */
  private escape(b: number): number {
    const chunk = this.chunk;
    const escape = ESCAPES[b] ?? 0;
    chunk[this.pos++] = BACKSLASH;
    if (escape !== 0x75) {
      chunk[this.pos++] = escape;
      return 2;
    }
    chunk[this.pos++] = 0x75;
    chunk[this.pos++] = 0x30;
    chunk[this.pos++] = 0x30;
    chunk[this.pos++] = HEX[b >> 4] ?? 0;
    chunk[this.pos++] = HEX[b & 15] ?? 0;
    return 6;
  }

  /** Appends a row holding `text` (a JS string, escaped by JSON.stringify); returns the bytes written. */
  appendText(sec: number, low: number, time: Buffer, text: string): number {
    const written = this.head(sec, low, time) + this.appendString(JSON.stringify(text).slice(1, -1));
    return written + this.appendBuffer(ROW_END);
  }

  /** `["<id>",<time>,"`: everything up to the text. */
  private head(sec: number, low: number, time: Buffer): number {
    if (this.chunk.length - this.pos < HEAD_ROOM + time.length) this.roll(HEAD_ROOM + time.length);
    const start = this.pos;
    const chunk = this.chunk;
    chunk[this.pos++] = 0x5b; // [
    chunk[this.pos++] = QUOTE;
    this.writeId(sec, low);
    chunk[this.pos++] = QUOTE;
    chunk[this.pos++] = 0x2c; // ,
    for (let i = 0; i < time.length; i++) chunk[this.pos++] = time[i] ?? 0;
    chunk[this.pos++] = 0x2c;
    chunk[this.pos++] = QUOTE;
    return this.pos - start;
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
