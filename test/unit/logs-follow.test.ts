// Following a log: a line that becomes readable after lines with larger ids (another worker's
// segment written later) is still shown, once; lines shown before are not repeated.
import type { ApiClient } from "../../lib/cli/client";
import { logsCommand } from "../../lib/cli/commands";
import type { CliIo } from "../../lib/cli/io";
import { FOLLOW_LATE_WINDOW_SEC, FollowCursor, type FollowedLine } from "../../lib/logs/follow";
import { lineIdFromParts } from "../../lib/logs/line-id";

const T0 = 1_800_000_000;
const row = (sec: number, low: number, line: string, node = "n1"): FollowedLine & { time: number } => ({
  job: "j",
  node,
  time: sec,
  line,
  lineId: lineIdFromParts(sec, low).toString(),
});

describe("FollowCursor", () => {
  test("starts from the beginning, then a late window before the newest line shown", () => {
    const cursor = new FollowCursor();
    expect(cursor.start()).toBeUndefined();
    cursor.fresh([row(T0, 1, "a"), row(T0 + 100, 1, "b")]);
    expect(cursor.start()).toBe(lineIdFromParts(T0 + 100 - FOLLOW_LATE_WINDOW_SEC, 1).toString());
  });

  test("a re-read shows only lines not shown yet: a late line below the newest, once", () => {
    const cursor = new FollowCursor();
    expect(cursor.fresh([row(T0, 5, "first"), row(T0 + 10, 5, "newer, other worker")]).map((l) => l.line)).toEqual([
      "first",
      "newer, other worker",
    ]);
    const reread = [row(T0, 5, "first"), row(T0 + 3, 9, "late"), row(T0 + 10, 5, "newer, other worker")];
    expect(cursor.fresh(reread).map((l) => l.line)).toEqual(["late"]);
    expect(cursor.fresh(reread)).toEqual([]);
  });

  test("equal ids of different tasks or texts are different lines", () => {
    const cursor = new FollowCursor();
    expect(cursor.fresh([row(T0, 5, "x"), row(T0, 5, "x", "n2"), row(T0, 5, "y")])).toHaveLength(3);
  });

  test("lines that fell out of the window are forgotten, and not shown again", () => {
    const cursor = new FollowCursor();
    cursor.fresh([row(T0, 1, "old")]);
    cursor.fresh([row(T0 + FOLLOW_LATE_WINDOW_SEC + 5, 1, "new")]);
    // A page starting before the window (a client's own cursor) does not repeat the old line.
    expect(cursor.fresh([row(T0, 1, "old"), row(T0 + FOLLOW_LATE_WINDOW_SEC + 5, 1, "new")])).toEqual([]);
  });
});

describe("sous logs --follow", () => {
  test("shows a line that became readable after a newer one was shown", async () => {
    // The API's lines as they become readable: another worker's earlier line arrives late.
    const readable = [row(T0 + 10, 7, "newer, written first")];
    const cursors: (string | undefined)[] = [];
    let polls = 0;
    let interrupt: (() => void) | undefined;
    const client = {
      request: (_method: string, path: string, options: { query: Record<string, string | undefined> }) => {
        expect(path).toBe("/logs");
        const cursor = options.query.cursor;
        cursors.push(cursor);
        polls += 1;
        if (polls === 2) readable.push(row(T0 + 8, 3, "older, written late"));
        if (polls === 3) interrupt?.();
        const lines = readable
          .filter((l) => cursor === undefined || BigInt(l.lineId) >= BigInt(cursor))
          .sort((a, b) => (BigInt(a.lineId) < BigInt(b.lineId) ? -1 : 1));
        return Promise.resolve({ lines, nextCursor: null });
      },
    } as unknown as ApiClient;
    const out: string[] = [];
    const io = {
      out: (line: string) => out.push(line),
      err: () => undefined,
      setExitCode: () => undefined,
      onInterrupt: (listener: (signal: string) => void) => {
        interrupt = () => {
          listener("SIGINT");
        };
        return () => undefined;
      },
      env: {},
    } as unknown as CliIo;
    await logsCommand({ client, io }, "j", "n1", { follow: true, pollMs: 1 });
    expect(out).toEqual(["newer, written first", "older, written late"]);
    // Every poll after the first starts a late window before the newest line shown.
    expect(cursors[0]).toBeUndefined();
    expect(cursors[1]).toBe(lineIdFromParts(T0 + 10 - FOLLOW_LATE_WINDOW_SEC, 7).toString());
  });
});
