// One field of Bistro's cron JSON (its CrontabSelector): a single value, a list of values, or a
// range `{"start", "end", "period"}` (each optional; `{}` and `[]` match every value). Values may
// be names (months, days of the week) where the field has them. A search past the last match
// wraps to the first and reports the wrap ("carry") so the next larger field can advance.
// Pure.
import { describePref } from "./source";

export class CronError extends Error {
  override readonly name = "CronError";
}

export type NameParser = (lowercase: string) => number | undefined;

export class CronSelector {
  /** Sorted values; when empty, the range start..end by period is used instead. */
  private readonly values: number[] = [];
  private start: number;
  private end: number;
  private period = 1;

  constructor(
    spec: unknown,
    readonly min: number,
    readonly max: number,
    private readonly names?: NameParser,
  ) {
    this.start = min;
    this.end = max;
    if (spec === undefined) return;
    if (typeof spec === "number" || typeof spec === "string") {
      this.values.push(this.parseValue(spec));
    } else if (Array.isArray(spec)) {
      // `[]` matches everything: some JSON writers turn `{}` into `[]`.
      for (const item of spec as unknown[]) this.values.push(this.parseValue(item));
    } else if (typeof spec === "object" && spec !== null) {
      for (const [key, value] of Object.entries(spec)) {
        if (key === "period") this.period = parsePeriod(value, max - min);
        else if (key === "start") this.start = this.parseValue(value);
        else if (key === "end") this.end = this.parseValue(value);
        else throw new CronError(`Unknown key: ${key}`);
      }
    } else {
      throw new CronError(`Bad type for crontab selector: ${spec === null ? "null" : typeof spec}`);
    }
    this.values.sort((a, b) => a - b);
  }

  /**
   * The first matching value >= t, and false; or, when there is none, the first matching value
   * and true (the search wrapped). No modular arithmetic: past `end`, a range restarts at `start`.
   */
  firstMatch(t: number): [number, boolean] {
    if (this.values.length > 0) {
      for (const value of this.values) if (value >= t) return [value, false];
      return [this.values[0] as number, true];
    }
    if (t < this.start) return [this.start, false];
    const next = t + ((this.period - ((t - this.start) % this.period)) % this.period);
    if (next > this.end) return [this.start, true];
    return [next, false];
  }

  private parseValue(value: unknown): number {
    let result: number;
    if (typeof value === "number" && Number.isSafeInteger(value)) {
      result = value;
    } else if (typeof value === "string") {
      if (this.names === undefined) throw new CronError(`Cannot parse string ${value}`);
      const parsed = this.names(value.toLowerCase());
      if (parsed === undefined) throw new CronError(`Unknown name: ${value}`);
      result = parsed;
    } else {
      throw new CronError(`Cannot parse ${describePref(value)}: expected an integer`);
    }
    if (result < this.min || result > this.max) {
      throw new CronError(`Value ${result} out of range [${this.min}, ${this.max}]`);
    }
    return result;
  }
}

/** Bistro reads `period` as an integer, converting a string of digits (its own tests pass "500"). */
function parsePeriod(value: unknown, span: number): number {
  const period = typeof value === "string" && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof period !== "number" || !Number.isSafeInteger(period)) {
    throw new CronError(`period must be an integer, found ${describePref(value)}`);
  }
  if (period < 1 || period >= span) throw new CronError(`period not in [1, ${span}]: ${period}`);
  return period;
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const MONTH_NAMES = [
  "january",
  "february",
  "march",
  "april",
  "may",
  "june",
  "july",
  "august",
  "september",
  "october",
  "november",
  "december",
];
const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const DAY_NAMES = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

/** January = 1; English three-letter abbreviations or full names, any case. */
export const parseMonth: NameParser = (name) => {
  const index = Math.max(MONTHS.indexOf(name), MONTH_NAMES.indexOf(name));
  return index < 0 ? undefined : index + 1;
};

/** Sunday = 1 .. Saturday = 7, whatever the locale. */
export const parseDayOfWeek: NameParser = (name) => {
  const index = Math.max(DAYS.indexOf(name), DAY_NAMES.indexOf(name));
  return index < 0 ? undefined : index + 1;
};
