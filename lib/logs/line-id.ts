// Log line ids: Bistro's 64-bit shape `(unixSeconds << 32) | low32`, passed as decimal strings
// (JavaScript numbers cannot hold them, so they are bigints in code). Bistro's low 32 bits are one
// process-wide counter; Sous splits them into a 20-bit per-second counter and a 12-bit writer salt,
// so that lines written in the same second by different workers rarely share an id (the reader
// stays correct even when they do: it never cuts a page between equal ids).

/** Bistro's "no line id" sentinel: `next_line_id` when there are no more lines, or "no bound". */
export const NOT_A_LINE_ID = -1n;
/** The largest id (Bistro keeps ids in a signed 64-bit integer). */
export const MAX_LINE_ID = (1n << 63n) - 1n;

export const SALT_BITS = 12;
export const COUNTER_BITS = 20;
const SALT_MASK = (1 << SALT_BITS) - 1;
/** Lines one writer can number within one second before it borrows the next second. */
export const COUNTER_LIMIT = 1 << COUNTER_BITS;
/** The difference between consecutive ids of one writer within one second. */
export const ID_STEP = 1 << SALT_BITS;
const LOW_32 = 0xffffffffn;

/** Width of the zero-padded decimal form: ids sort as strings in DynamoDB sort keys. */
const PADDED_WIDTH = 19;

export function lineIdTimeSec(id: bigint): number {
  return Number(id >> 32n);
}

/** Bistro's `lineIDFromTime`: the first id of second `sec` ascending, the last one descending. */
export function lineIdFromTime(sec: number, ascending: boolean): bigint {
  const base = BigInt(Math.trunc(sec)) << 32n;
  return ascending ? base : base | LOW_32;
}

export function formatLineId(id: bigint): string {
  return id.toString();
}

/** A decimal int64, or undefined when `text` is not one. */
export function parseLineId(text: string): bigint | undefined {
  if (!/^-?\d{1,20}$/.test(text)) return undefined;
  const id = BigInt(text);
  return id >= -(1n << 63n) && id <= MAX_LINE_ID ? id : undefined;
}

/** Fixed-width decimal of a non-negative id, for sort keys (negative ids clamp to 0). */
export function padLineId(id: bigint): string {
  const clamped = id < 0n ? 0n : id > MAX_LINE_ID ? MAX_LINE_ID : id;
  return clamped.toString().padStart(PADDED_WIDTH, "0");
}

/**
 * Numbers the lines of one writer: strictly increasing ids whose time part is the line's second.
 * If the clock steps back the writer keeps its last second; past 2^20 lines in one second it moves
 * on to the next second (ids run slightly ahead of the clock rather than repeat).
 */
export class LineIdGenerator {
  private second = -1;
  private counter = 0;
  private lastLow = 0;
  readonly salt: number;

  constructor(salt: number) {
    this.salt = salt & SALT_MASK;
  }

  /** The time part of the id last made. */
  get sec(): number {
    return this.second;
  }

  /** The low 32 bits of the id last made (a non-negative number). */
  get low(): number {
    return this.lastLow;
  }

  /** Makes the next id and keeps it as `sec` and `low`: no bigint per line on the hot path. */
  advance(timeMs: number): void {
    const sec = Math.max(0, Math.floor(timeMs / 1000));
    if (sec > this.second) {
      this.second = sec;
      this.counter = 0;
    } else if (this.counter >= COUNTER_LIMIT) {
      this.second += 1;
      this.counter = 0;
    }
    this.lastLow = ((this.counter << SALT_BITS) | this.salt) >>> 0;
    this.counter += 1;
  }

  /**
   * Makes up to `count` consecutive ids of one second at once (fewer when the second's counter runs
   * out) and returns how many: the first is `sec`/`low` as `advance` leaves them, and each next one
   * is ID_STEP higher. A read of a pipe is numbered this way, with no work per line.
   */
  advanceRun(timeMs: number, count: number): number {
    this.advance(timeMs);
    const taken = Math.min(count, COUNTER_LIMIT - this.counter + 1);
    this.counter += taken - 1;
    return taken;
  }

  /** The low half of the last id of a run of `count` from `advanceRun`. */
  lastLowOfRun(count: number): number {
    return this.lastLow + (count - 1) * ID_STEP;
  }

  next(timeMs: number): bigint {
    this.advance(timeMs);
    return lineIdFromParts(this.second, this.lastLow);
  }
}

/** The id whose time part is `sec` and whose low 32 bits are `low`. */
export function lineIdFromParts(sec: number, low: number): bigint {
  return (BigInt(sec) << 32n) | BigInt(low);
}
