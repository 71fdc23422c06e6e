// Local time labels in a named time zone, for the cron of the `add_time` source. A "label" is a
// wall-clock reading (year..second) written as seconds since 1970 as if it were UTC, so calendar
// arithmetic is plain arithmetic. Offsets come from the ICU data Node ships (Intl), so any IANA
// zone works; labels map back to 0 (skipped by a DST jump), 1 or 2 (repeated by a DST rewind)
// UTC instants. Pure: no clock, no I/O.

const DAY = 86_400;

export class TimeZoneError extends Error {
  override readonly name = "TimeZoneError";
}

export class TimeZone {
  private readonly format: Intl.DateTimeFormat;
  /** Offsets of recently asked instants: a cron search asks about the same few many times. */
  private readonly offsets = new Map<number, number>();

  constructor(readonly name: string) {
    try {
      this.format = new Intl.DateTimeFormat("en-US", {
        timeZone: name,
        hourCycle: "h23",
        year: "numeric",
        month: "numeric",
        day: "numeric",
        hour: "numeric",
        minute: "numeric",
        second: "numeric",
        era: "short",
      });
    } catch {
      throw new TimeZoneError(`unknown time zone ${JSON.stringify(name)}; use an IANA name such as "Europe/Paris"`);
    }
  }

  /** Seconds to add to a UTC instant to read the local clock at that instant. */
  offsetAt(utcSec: number): number {
    const cached = this.offsets.get(utcSec);
    if (cached !== undefined) return cached;
    const fields: Record<string, number> = {};
    let bc = false;
    for (const part of this.format.formatToParts(utcSec * 1000)) {
      if (part.type === "era") bc = part.value.startsWith("B");
      else if (part.type !== "literal") fields[part.type] = Number(part.value);
    }
    const year = bc ? 1 - (fields.year ?? 0) : (fields.year ?? 0);
    const date = new Date(0);
    date.setUTCFullYear(year, (fields.month ?? 1) - 1, fields.day ?? 1);
    date.setUTCHours(fields.hour ?? 0, fields.minute ?? 0, fields.second ?? 0, 0);
    const offset = date.getTime() / 1000 - utcSec;
    if (this.offsets.size > 4096) this.offsets.clear();
    this.offsets.set(utcSec, offset);
    return offset;
  }

  /** The local label of a UTC instant. */
  toLabel(utcSec: number): number {
    return utcSec + this.offsetAt(utcSec);
  }

  /**
   * The UTC instants that read as `label` locally, ascending: none when a DST jump skips it, two
   * when a DST rewind repeats it. Zones change offset at most once within a day of any instant.
   */
  fromLabel(label: number): number[] {
    const candidates = new Set([this.offsetAt(label - DAY), this.offsetAt(label), this.offsetAt(label + DAY)]);
    const instants: number[] = [];
    for (const offset of candidates) {
      const utc = label - offset;
      if (this.offsetAt(utc) === offset && !instants.includes(utc)) instants.push(utc);
    }
    return instants.sort((a, b) => a - b);
  }

  /**
   * The first instant in (low, high] whose offset differs from the offset at `low` (the offset
   * changes once there). Binary search, so the result is exact to the second.
   */
  transitionAfter(low: number, high: number): number {
    const before = this.offsetAt(low);
    let lo = low;
    let hi = high;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.offsetAt(mid) === before) lo = mid;
      else hi = mid;
    }
    return hi;
  }
}

/** Calendar fields of a label (month 1-12, day of week 1 = Sunday .. 7 = Saturday). */
export interface LabelFields {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export function labelFields(label: number): LabelFields {
  const date = new Date(label * 1000);
  return {
    year: date.getUTCFullYear(),
    month: date.getUTCMonth() + 1,
    day: date.getUTCDate(),
    hour: date.getUTCHours(),
    minute: date.getUTCMinutes(),
    second: date.getUTCSeconds(),
  };
}

export function fieldsLabel(year: number, month: number, day: number, hour: number, minute: number): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, 0, 0);
  return date.getTime() / 1000;
}

export function daysInMonth(year: number, month: number): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month, 0);
  return date.getUTCDate();
}

/** 1 = Sunday .. 7 = Saturday. */
export function dayOfWeek(year: number, month: number, day: number): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  return date.getUTCDay() + 1;
}
