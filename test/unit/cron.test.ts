// Bistro's cron JSON (lib/nodes/cron.ts), with the cases of Bistro's own cron tests
// (selectors, epoch items, standard items with DST skips and rewinds) in US Pacific time, and
// the same rules in a southern-hemisphere zone and a 30-minute DST zone.
import { CronError, parseCron, TimeZone } from "../../lib/nodes";
import { CronSelector, parseDayOfWeek } from "../../lib/nodes/cron-selector";

const PACIFIC = new TimeZone("America/Los_Angeles");
const UTC = new TimeZone("UTC");
const DST_BOTH = { dst_fixes: ["skip", "repeat_use_both"] };

/** A weekday selector whose names are Bistro's test clowns ("Sunny", "Monica", ...). */
function clown(spec: unknown): CronSelector {
  const names: Record<string, number> = {
    sunny: 1,
    monica: 2,
    tuelly: 3,
    wedder: 4,
    thurmond: 5,
    friedrich: 6,
    satay: 7,
  };
  return new CronSelector(spec, 1, 7, (name) => names[name] ?? parseDayOfWeek(name));
}

const standard = (spec: Record<string, unknown>, zone = PACIFIC) => parseCron({ ...DST_BOTH, ...spec }, zone);
const match = (spec: Record<string, unknown>, t: number, zone = PACIFIC) => standard(spec, zone).firstMatch(t);
const epoch = (selector: unknown) => parseCron({ epoch: selector }, UTC);

describe("cron selectors (Bistro's TestCrontabSelector)", () => {
  it("matches the default range, wrapping past the end", () => {
    const all = clown({});
    expect(all.firstMatch(0)).toEqual([1, false]);
    expect(all.firstMatch(1)).toEqual([1, false]);
    expect(all.firstMatch(6)).toEqual([6, false]);
    expect(all.firstMatch(7)).toEqual([7, false]);
    expect(all.firstMatch(8)).toEqual([1, true]);
    expect(all.firstMatch(10)).toEqual([1, true]);
  });

  it("matches single values and lists", () => {
    const five = clown(5);
    for (let i = 0; i < 10; i++) expect(five.firstMatch(i)).toEqual([5, i > 5]);
    const list = clown([2, 4, 5]);
    const expected: [number, boolean][] = [
      [2, false],
      [2, false],
      [2, false],
      [4, false],
      [4, false],
      [5, false],
      [2, true],
      [2, true],
    ];
    expected.forEach((result, t) => {
      expect(list.firstMatch(t)).toEqual(result);
    });
    expect(clown("Thu").firstMatch(0)).toEqual([5, false]);
    expect(clown(["Sat", 1, "Fri"]).firstMatch(2)).toEqual([6, false]);
  });

  it("matches a range with a stride", () => {
    const range = clown({ start: 3, end: 7, period: 2 });
    const expected = [3, 3, 3, 5, 5, 7, 7];
    expected.forEach((value, i) => {
      expect(range.firstMatch(i + 1)).toEqual([value, false]);
    });
    expect(range.firstMatch(8)).toEqual([3, true]);
    expect(clown({ start: "Tuelly", end: "Wed" }).firstMatch(5)).toEqual([3, true]);
    expect(clown({ end: "Fri", period: 2 }).firstMatch(6)).toEqual([1, true]);
  });

  it.each([
    [{ period: 0 }, "period not in [1, 6]: 0"],
    [{ period: -1 }, "period not in [1, 6]: -1"],
    [{ period: 7 }, "period not in [1, 6]: 7"],
    [{ start: 0 }, "Value 0 out of range [1, 7]"],
    [{ end: 8 }, "Value 8 out of range [1, 7]"],
    [{ bad_key: 3 }, "Unknown key: bad_key"],
    [0.1, "Cannot parse 0.1"],
    ["Chicken", "Unknown name: Chicken"],
    ["Th", "Unknown name: Th"],
    ["S", "Unknown name: S"],
    [{ start: 0.3 }, "Cannot parse 0.3"],
    [true, "Bad type for crontab selector: boolean"],
    [null, "Bad type for crontab selector: null"],
  ])("refuses %j (%s)", (spec, message) => {
    expect(() => clown(spec)).toThrow(message);
  });
});

describe("epoch items (Bistro's TestEpochCrontabItem)", () => {
  it("matches a single value once", () => {
    const once = epoch(500);
    expect([0, 499, 500].map((t) => once.firstMatch(t))).toEqual([500, 500, 500]);
    expect(once.firstMatch(501)).toBeNull();
    expect(once.firstMatch(2_000_000_000)).toBeNull();
  });

  it("matches a list of values", () => {
    const twice = epoch([500, 7_000_000]);
    expect([0, 500, 501].map((t) => twice.firstMatch(t))).toEqual([500, 500, 7_000_000]);
    expect(twice.firstMatch(7_000_001)).toBeNull();
  });

  it("matches a period from a start (a period given as a string of digits, as Bistro converts)", () => {
    const every = epoch({ start: 5000, period: "500" });
    const cases: [number, number][] = [
      [0, 5000],
      [5000, 5000],
      [5001, 5500],
      [5623, 6000],
      [1234567890, 1234568000],
      [1234568123, 1234568500],
    ];
    for (const [t, expected] of cases) expect(every.firstMatch(t)).toBe(expected);
    const offset = epoch({ start: 750, period: 300 });
    const more: [number, number][] = [
      [3, 750],
      [92885829, 92885850],
      [92885850, 92885850],
      [92885851, 92886150],
      [92886150, 92886150],
    ];
    for (const [t, expected] of more) expect(offset.firstMatch(t)).toBe(expected);
  });

  it("matches a period up to an end, then nothing", () => {
    const until = epoch({ end: 1500, period: 30 });
    const cases: [number, number][] = [
      [0, 0],
      [1, 30],
      [1440, 1440],
      [1441, 1470],
      [1471, 1500],
      [1500, 1500],
    ];
    for (const [t, expected] of cases) expect(until.firstMatch(t)).toBe(expected);
    expect(until.firstMatch(1501)).toBeNull();
  });

  it("allows no other key beside epoch, and no names", () => {
    expect(() => parseCron({ epoch: 5, minute: 1 }, UTC)).toThrow("Can only have the 'epoch' key");
    expect(() => epoch("Mon")).toThrow("Cannot parse string Mon");
    expect(() => epoch(-1)).toThrow("out of range");
  });
});

describe("standard items in US Pacific time (Bistro's TestStandardCrontabItem)", () => {
  it("matches minutes, wrapping at the hour and at the end of the day", () => {
    expect(match({ minute: {} }, 0)).toBe(0);
    expect(match({ minute: { start: 3 } }, 0)).toBe(180);
    const min7 = standard({ minute: { period: 7 } });
    const cases: [number, number][] = [
      [0, 0],
      [1, 7 * 60],
      [7 * 7 * 60, 7 * 7 * 60],
      [7 * 7 * 60 + 1, 8 * 7 * 60],
      [8 * 7 * 60 - 1, 8 * 7 * 60],
      [8 * 7 * 60, 8 * 7 * 60],
      [8 * 7 * 60 + 1, 3600],
      [3600 + 1, 3600 + 7 * 60],
      [28800 - 1, 28800],
      [28800, 28800],
      [28800 + 1, 28800 + 7 * 60],
    ];
    for (const [t, expected] of cases) expect(min7.firstMatch(t)).toBe(expected);
  });

  it("skips months without the day, finds Feb 29 of a matching leap year, and fails loudly when none exists", () => {
    expect(match({ minute: {}, day_of_month: [31] }, 211410000)).toBe(215593200);
    expect(
      match({ minute: [37], hour: 17, day_of_month: [29], month: "Feb", year: { start: 1999, period: 3 } }, 1107214567),
    ).toBe(1204335420);
    const never = standard({ minute: {}, day_of_month: [29], month: "FEBRUARY", year: { start: 2001, period: 2 } });
    expect(() => never.firstMatch(0)).toThrow(/No matches in 51 iterations/);
  });

  it("matches days of the week, carrying into the next week and month", () => {
    const saturday = standard({ minute: {}, day_of_week: 7 });
    for (const t of [1390118400, 1390550400, 1390636800]) expect(saturday.firstMatch(t)).toBe(1390636800);
    const sunday = standard({ minute: {}, day_of_week: 1 });
    for (const t of [1390204800, 1390636800, 1390723200]) expect(sunday.firstMatch(t)).toBe(1390723200);
    expect(match({ hour: 8, minute: 50, day_of_week: 3 }, 1494951618)).toBe(1495554600);
    expect(match({ minute: {}, day_of_week: 3, month: [3, 11] }, 375523200)).toBe(383904000);
  });

  it("skips or unskips local times a DST jump skips", () => {
    const preSkip = 1362909540; // Sun Mar 10 01:59:00 PST 2013
    expect(match({ minute: 3 }, preSkip)).toBe(preSkip + 4 * 60);
    expect(match({ minute: [3, 7, 9] }, preSkip)).toBe(preSkip + 4 * 60);
    const unskip = parseCron({ dst_fixes: ["unskip", "repeat_use_both"], minute: 3 }, PACIFIC);
    expect(unskip.firstMatch(preSkip)).toBe(preSkip + 59);
  });

  const firstAmbiguous = 1383465600; // Sun Nov  3 01:00:00 PDT 2013
  const midAmbiguous = firstAmbiguous + 3600;
  const firstUnambiguous = midAmbiguous + 3600;
  const rewind = (fix: string) => parseCron({ dst_fixes: ["skip", fix], minute: [3, 7] }, PACIFIC);

  it("matches both copies of a repeated hour with repeat_use_both", () => {
    const both = rewind("repeat_use_both");
    const cases: [number, number][] = [
      [firstAmbiguous - 90, firstAmbiguous + 180],
      [firstAmbiguous, firstAmbiguous + 180],
      [firstAmbiguous + 180, firstAmbiguous + 180],
      [firstAmbiguous + 181, firstAmbiguous + 420],
      [firstAmbiguous + 420, firstAmbiguous + 420],
      [firstAmbiguous + 421, midAmbiguous + 180],
      [midAmbiguous - 90, midAmbiguous + 180],
      [midAmbiguous, midAmbiguous + 180],
      [midAmbiguous + 180, midAmbiguous + 180],
      [midAmbiguous + 181, midAmbiguous + 420],
      [midAmbiguous + 420, midAmbiguous + 420],
      [midAmbiguous + 421, firstUnambiguous + 180],
    ];
    for (const [t, expected] of cases) expect([t, both.firstMatch(t)]).toEqual([t, expected]);
  });

  it("matches only the early copy with repeat_use_only_early", () => {
    const early = rewind("repeat_use_only_early");
    const cases: [number, number][] = [
      [firstAmbiguous - 90, firstAmbiguous + 180],
      [firstAmbiguous, firstAmbiguous + 180],
      [firstAmbiguous + 180, firstAmbiguous + 180],
      [firstAmbiguous + 181, firstAmbiguous + 420],
      [firstAmbiguous + 420, firstAmbiguous + 420],
      [firstAmbiguous + 421, firstUnambiguous + 180],
    ];
    for (const [t, expected] of cases) expect([t, early.firstMatch(t)]).toEqual([t, expected]);
  });

  it("matches only the late copy with repeat_use_only_late", () => {
    const late = rewind("repeat_use_only_late");
    const cases: [number, number][] = [
      [firstAmbiguous - 90, midAmbiguous + 180],
      [midAmbiguous - 90, midAmbiguous + 180],
      [midAmbiguous, midAmbiguous + 180],
      [midAmbiguous + 180, midAmbiguous + 180],
      [midAmbiguous + 181, midAmbiguous + 420],
      [midAmbiguous + 420, midAmbiguous + 420],
      [midAmbiguous + 421, firstUnambiguous + 180],
    ];
    for (const [t, expected] of cases) expect([t, late.firstMatch(t)]).toEqual([t, expected]);
  });

  it("matches listed years only, then nothing", () => {
    const twoYears = standard({ year: [2003, 2005], month: 1, day_of_month: 1, hour: 0, minute: 0 });
    expect(twoYears.firstMatch(0)).toBe(1041408000);
    expect(twoYears.firstMatch(1041408001)).toBe(1104566400);
    expect(twoYears.firstMatch(1104566401)).toBeNull();
  });
});

describe("standard items in other zones", () => {
  it("reads the zone's own clock: 09:00 in Sydney during its summer time (UTC+11)", () => {
    // From Mon Jan 6 2025 00:00 UTC (11:00 in Sydney), the next 09:00 there is Jan 7 09:00 = Jan 6 22:00 UTC.
    const sydney = new TimeZone("Australia/Sydney");
    expect(match({ hour: 9, minute: 0 }, Date.UTC(2025, 0, 6, 0, 0) / 1000, sydney)).toBe(
      Date.UTC(2025, 0, 6, 22, 0) / 1000,
    );
  });

  it("handles a southern-hemisphere DST jump (Sydney, Oct 6 2024 02:00 -> 03:00) with unskip", () => {
    const sydney = new TimeZone("Australia/Sydney");
    const jump = Date.UTC(2024, 9, 5, 16, 0) / 1000; // 02:00 AEST = 16:00 UTC the day before
    const at0230 = { hour: 2, minute: 30 };
    expect(parseCron({ dst_fixes: ["unskip", "repeat_use_both"], ...at0230 }, sydney).firstMatch(jump - 600)).toBe(
      jump - 1,
    );
    // "skip" goes to 02:30 the next day (AEDT, UTC+11).
    expect(parseCron({ dst_fixes: ["skip", "repeat_use_both"], ...at0230 }, sydney).firstMatch(jump - 600)).toBe(
      Date.UTC(2024, 9, 6, 15, 30) / 1000,
    );
  });

  it("handles a 30-minute DST rewind (Lord Howe Island, Apr 7 2024 02:00 -> 01:30)", () => {
    const lordHowe = new TimeZone("Australia/Lord_Howe");
    const rewindAt = Date.UTC(2024, 3, 6, 15, 0) / 1000; // 02:00 +11 -> 01:30 +10:30
    const at0145 = { hour: 1, minute: 45 };
    const early = rewindAt - 15 * 60;
    const late = rewindAt + 15 * 60;
    const item = (fix: string) => parseCron({ dst_fixes: ["skip", fix], ...at0145 }, lordHowe);
    expect(item("repeat_use_both").firstMatch(rewindAt - 3600)).toBe(early);
    expect(item("repeat_use_both").firstMatch(early + 1)).toBe(late);
    expect(item("repeat_use_only_late").firstMatch(rewindAt - 3600)).toBe(late);
    expect(item("repeat_use_only_early").firstMatch(early + 1)).toBe(late + 86400); // the next day's 01:45, in standard time
  });

  it("never moves a UTC schedule", () => {
    expect(match({ hour: 12, minute: 0 }, 0, UTC)).toBe(12 * 3600);
  });
});

describe("standard item errors (Bistro's TestErrors)", () => {
  it.each([
    [{ ...DST_BOTH, minute: 0, day_of_month: 1, day_of_week: 1 }, "Cannot have both day_of_month and day_of_week"],
    [{ ...DST_BOTH, minute: 0, clown: 1 }, "Unknown crontab item key: clown"],
    [{ ...DST_BOTH }, 'Must have "minute" selector'],
    [{}, 'Specify DST handling in the "dst_fixes" list'],
    [{ minute: 0, dst_fixes: ["unskip"] }, '"dst_fixes" needs one rule'],
    [{ minute: 0, dst_fixes: ["repeat_use_both"] }, '"dst_fixes" needs one rule'],
    [{ minute: 0, dst_fixes: {} }, 'Specify DST handling in the "dst_fixes" list'],
    [{ minute: 0, dst_fixes: ["skip", "repeat_use_both", "unskip"] }, "dst_fixes has two rules for skipped times"],
    [{ minute: 0, dst_fixes: ["skip", "repeat_use_both", "clown"] }, 'Unknown dst_fixes entry: "clown"'],
    [{ ...DST_BOTH, minute: 60 }, "Value 60 out of range [0, 59]"],
    [{ ...DST_BOTH, minute: 0, month: "Janu" }, "Unknown name: Janu"],
    [[], "CrontabItem must be an object"],
  ])("refuses %j", (spec, message) => {
    expect(() => parseCron(spec, PACIFIC)).toThrow(CronError);
    expect(() => parseCron(spec, PACIFIC)).toThrow(message);
  });

  it("reads month and weekday names in any case (Bistro's ParseMonthNames, ParseDayOfWeekNames)", () => {
    const t = Date.UTC(2025, 0, 1) / 1000;
    const months = standard({ minute: 0, hour: 0, day_of_month: 1, month: ["Nov", "december"] }, UTC);
    expect(months.firstMatch(t)).toBe(Date.UTC(2025, 10, 1) / 1000);
    const days = standard({ minute: 0, hour: 0, day_of_week: ["frIDay", "SAT"] }, UTC); // Jan 1 2025 is a Wednesday
    expect(days.firstMatch(t)).toBe(Date.UTC(2025, 0, 3) / 1000);
    expect(
      standard({ minute: 0, hour: 0, month: ["January", "FEB", "march", "Apr", "May", 6] }, UTC).firstMatch(t),
    ).toBe(t);
  });
});
