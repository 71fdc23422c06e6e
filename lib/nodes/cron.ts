// Bistro's cron JSON (its CrontabItem), used by the `add_time` source: `{"epoch": selector}`
// matches Unix seconds directly (no time zone); otherwise the standard fields `minute`
// (required), `hour`, `day_of_month` or `day_of_week` (not both), `month`, `year` match the
// local clock of a time zone, and `dst_fixes` (required) says what to do with local times a
// DST jump skips ("skip" | "unskip") and ones a DST rewind repeats ("repeat_use_both" |
// "repeat_use_only_early" | "repeat_use_only_late"). `firstMatch(t)` is the first matching
// instant >= t, or null when there is none. Pure: the time zone is a parameter.
import { CronError, CronSelector, parseDayOfWeek, parseMonth } from "./cron-selector";
import { dayOfWeek, daysInMonth, fieldsLabel, labelFields, type TimeZone } from "./time-zone";

export { CronError } from "./cron-selector";

export interface CronItem {
  firstMatch(utcSec: number): number | null;
}

/** Parses one cron object; throws CronError naming what is wrong. */
export function parseCron(spec: unknown, zone: TimeZone): CronItem {
  if (typeof spec !== "object" || spec === null || Array.isArray(spec)) {
    throw new CronError("CrontabItem must be an object");
  }
  if (Object.hasOwn(spec, "epoch")) return epochItem(spec as Record<string, unknown>);
  return new StandardCronItem(spec as Record<string, unknown>, zone);
}

function epochItem(spec: Record<string, unknown>): CronItem {
  if (Object.keys(spec).length !== 1) throw new CronError(`Can only have the 'epoch' key: ${JSON.stringify(spec)}`);
  const selector = new CronSelector(spec.epoch, 0, Number.MAX_SAFE_INTEGER);
  return {
    firstMatch(utcSec) {
      const [value, wrapped] = selector.firstMatch(utcSec);
      return wrapped ? null : value;
    },
  };
}

// Search positions, largest first (day of week is derived from the date).
const YEAR = 0;
const MONTH = 1;
const DAY = 2;
const MINUTE = 4;
const FIELDS = 5;
const DAYS_IN_WEEK = 7;
/** Bistro's bound on one search: reached only by selectors that never match (e.g. Feb 30). */
const MAX_SEARCH_DEPTH = 50;
const STANDARD_KEYS = new Set(["year", "month", "day_of_month", "day_of_week", "hour", "minute", "dst_fixes"]);

interface Search {
  values: number[];
  position: number;
  depth: number;
  found: boolean;
}

class StandardCronItem implements CronItem {
  private readonly selectors: CronSelector[];
  private readonly dayOfWeek: CronSelector | null;
  private unskip = false;
  private useEarly = false;
  private useLate = false;

  constructor(
    spec: Record<string, unknown>,
    private readonly zone: TimeZone,
  ) {
    this.parseDstFixes(spec.dst_fixes);
    for (const key of Object.keys(spec)) {
      if (!STANDARD_KEYS.has(key)) throw new CronError(`Unknown crontab item key: ${key}`);
    }
    if (Object.hasOwn(spec, "day_of_month") && Object.hasOwn(spec, "day_of_week")) {
      throw new CronError("Cannot have both day_of_month and day_of_week");
    }
    if (!Object.hasOwn(spec, "minute")) throw new CronError('Must have "minute" selector');
    this.selectors = [
      new CronSelector(spec.year, 1969, 9999),
      new CronSelector(spec.month, 1, 12, parseMonth),
      new CronSelector(spec.day_of_month, 1, 31),
      new CronSelector(spec.hour, 0, 23),
      new CronSelector(spec.minute, 0, 59),
    ];
    this.dayOfWeek = Object.hasOwn(spec, "day_of_week")
      ? new CronSelector(spec.day_of_week, 1, DAYS_IN_WEEK, parseDayOfWeek)
      : null;
  }

  private parseDstFixes(fixes: unknown): void {
    if (!Array.isArray(fixes)) throw new CronError('Specify DST handling in the "dst_fixes" list');
    let forward = false;
    let rewind = false;
    for (const fix of fixes as unknown[]) {
      const isForward = fix === "skip" || fix === "unskip";
      const isRewind = fix === "repeat_use_both" || fix === "repeat_use_only_early" || fix === "repeat_use_only_late";
      if (!isForward && !isRewind) throw new CronError(`Unknown dst_fixes entry: ${JSON.stringify(fix)}`);
      if ((isForward && forward) || (isRewind && rewind)) {
        throw new CronError(`dst_fixes has two rules for ${isForward ? "skipped" : "repeated"} times`);
      }
      if (isForward) forward = true;
      if (isRewind) rewind = true;
      if (fix === "unskip") this.unskip = true;
      if (fix === "repeat_use_both" || fix === "repeat_use_only_early") this.useEarly = true;
      if (fix === "repeat_use_both" || fix === "repeat_use_only_late") this.useLate = true;
    }
    if (!forward || !rewind) {
      throw new CronError(
        '"dst_fixes" needs one rule for skipped times ("skip" or "unskip") and one for repeated times ' +
          '("repeat_use_both", "repeat_use_only_early" or "repeat_use_only_late")',
      );
    }
  }

  firstMatch(utcSec: number): number | null {
    const match = this.firstMatchFrom(utcSec);
    if (match !== null && match < utcSec) throw new CronError(`cron went back in time: ${utcSec} -> ${match}`);
    return match;
  }

  private firstMatchFrom(input: number): number | null {
    // Matches fall on whole minutes; rounding up keeps a search from finding its own input's minute.
    const t = input + ((60 - (input % 60)) % 60);
    const found = this.matchingInstants(t);
    if (!found) return null;
    const { label, instants } = found;
    if (instants.length === 0) {
      // The label was skipped by a DST jump: "unskip" fires in the last second before the jump.
      const preSkip = this.transitionAround(label) - 1;
      if (t > preSkip) throw new CronError(`input ${t} is after the DST jump at ${preSkip + 1}`);
      return this.unskip ? preSkip : this.firstMatch(preSkip + 1);
    }
    if (instants.length === 2) {
      const [early, late] = instants as [number, number];
      if (t <= early) return this.useEarly ? early : this.firstMatch(early + 1);
      return this.useLate ? late : this.firstMatch(late + 1);
    }
    return instants[0] as number;
  }

  /** The first matching local label at or after t's label, and the instants it maps to. */
  private matchingInstants(t: number): { label: number; instants: number[] } | null {
    const local = this.zone.toLabel(t);
    const fields = labelFields(local);
    const search: Search = {
      values: [fields.year, fields.month, fields.day, fields.hour, fields.minute],
      position: YEAR,
      depth: 0,
      found: true,
    };
    this.searchPositions(search, 0);
    if (!search.found) return null;
    const [year, month, day, hour, minute] = search.values as [number, number, number, number, number];
    const label = fieldsLabel(year, month, day, hour, minute);
    const instants = this.zone.fromLabel(label);

    // t is in a repeated hour, before the rewind: a match after the repeated hour may skip the
    // repeat's matches, so search again from the first repeated instant.
    const both = this.zone.fromLabel(local);
    if (both.length === 2 && both[0] === t) {
      const [early, late] = both as [number, number];
      const rewind = this.zone.transitionAfter(early, late);
      const firstAmbiguous = early - (late - rewind);
      const firstUnambiguous = late + (rewind - early);
      const last = instants.length > 0 ? Math.max(...instants) : -1;
      if (t !== firstAmbiguous && last >= firstUnambiguous) return this.matchingInstants(firstAmbiguous);
    }
    return { label, instants };
  }

  /** The UTC instant of the DST jump that skips `label`. */
  private transitionAround(label: number): number {
    const after = this.zone.offsetAt(label + 86_400);
    const before = this.zone.offsetAt(label - 86_400);
    return this.zone.transitionAfter(label - after, label - before);
  }

  private searchPositions(search: Search, carry: number): void {
    if (search.position === DAY && this.dayOfWeek) {
      const [year, month, day] = search.values as [number, number, number];
      const today = dayOfWeek(year, month, day);
      const [next, wrapped] = this.dayOfWeek.firstMatch(today + carry);
      this.searchPosition(search, wrapped ? next + DAYS_IN_WEEK - today : next - today);
      return;
    }
    this.searchPosition(search, carry);
  }

  private searchPosition(search: Search, carry: number): void {
    if (++search.depth > MAX_SEARCH_DEPTH) {
      throw new CronError(`No matches in ${search.depth} iterations. Does your selector never match?`);
    }
    const { position, values } = search;
    const selector = this.selectors[position] as CronSelector;
    const value = values[position] as number;
    const [next, wrappedSelector] = selector.firstMatch(value + carry);
    // A selector of days may offer the 30th in February.
    const wrapped =
      wrappedSelector || (position === DAY && next > daysInMonth(values[YEAR] as number, values[MONTH] as number));
    if (wrapped) {
      if (position === YEAR) {
        search.found = false;
        return;
      }
      search.position = position - 1;
      this.searchPositions(search, 1);
      return;
    }
    values[position] = next;
    search.position = position + 1;
    if (search.position === FIELDS) return;
    // A field that advanced resets every smaller one, like 199 -> 200.
    if (next !== value) {
      for (let p = search.position; p <= MINUTE; p++) values[p] = (this.selectors[p] as CronSelector).min;
    }
    this.searchPositions(search, 0);
  }
}
