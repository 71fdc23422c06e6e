// Timers on time: the round's earliest due timer (lib/scheduler/timers.ts), when `add_time`
// slots next change (lib/nodes/add-time.ts), and which queue bodies count as wake-ups.
import { addTimeNextChange, addTimeNodes } from "../../lib/nodes";
import { nextNodeChangeSec } from "../../lib/nodes/load";
import { StatusBits, type TaskStatus } from "../../lib/model/status";
import { ingestStatuses } from "../../lib/round/apply-statuses";
import { isWakeMessage } from "../../lib/round/wake";
import { nextDueTimer } from "../../lib/scheduler/timers";
import { makeConfig } from "../helpers/model";

const backoff = (timeSec: number, backoffSec: number): TaskStatus => ({
  bits: StatusBits.ERROR | StatusBits.USES_BACKOFF,
  timeSec,
  backoffSec,
});
const config = makeConfig({ levels: ["host"], killOrphanTasksAfterSec: 30 }, { a: {}, b: {}, off: { enabled: false } });

describe("nextDueTimer", () => {
  it("is the earliest backoff end of an idle task of a job that can run", () => {
    const tasks = [
      { job: "a", node: "n1", status: backoff(100, 50) },
      { job: "b", node: "n2", status: backoff(100, 20) },
      { job: "off", node: "n3", status: backoff(100, 5) }, // disabled: starts nothing when it ends
      { job: "gone", node: "n4", status: backoff(100, 1) }, // deleted job
    ];
    expect(nextDueTimer({ config, tasks, orphanTimers: [] }, 110)).toEqual({ atSec: 120, what: "backoff" });
  });

  it("ignores backoffs already over, running tasks and statuses without backoff", () => {
    const running = {
      job: "a",
      node: "n1",
      status: backoff(100, 20),
      running: {
        attemptId: "r1.0",
        workerId: "w",
        startTimeSec: 105,
        usage: [],
        nextBackoff: { seconds: 15, noMoreBackoffs: false },
      },
    };
    const tasks = [
      running,
      { job: "b", node: "n2", status: backoff(100, 5) },
      { job: "b", node: "n3", status: { bits: StatusBits.DONE, timeSec: 100, backoffSec: 0 } },
    ];
    expect(nextDueTimer({ config, tasks, orphanTimers: [] }, 110)).toBeNull();
  });

  it("counts orphan kill deadlines with the job's delay, else the config's, never when null", () => {
    const withJobDelay = makeConfig(
      { levels: ["host"], killOrphanTasksAfterSec: 30 },
      { a: { killOrphanTasksAfterSec: 10 }, never: { killOrphanTasksAfterSec: null } },
    );
    const orphanTimers = [
      { job: "a", node: "n1", firstSeenSec: 100 }, // 110
      { job: "deleted", node: "n2", firstSeenSec: 90 }, // config's 30: 120
      { job: "never", node: "n3", firstSeenSec: 0 },
    ];
    expect(nextDueTimer({ config: withJobDelay, tasks: [], orphanTimers }, 105)).toEqual({
      atSec: 110,
      what: "orphan-kill",
    });
    expect(nextDueTimer({ config: withJobDelay, tasks: [], orphanTimers }, 110)).toEqual({
      atSec: 120,
      what: "orphan-kill",
    });
  });

  it("takes a node change when it comes first, and only times after now", () => {
    const tasks = [{ job: "a", node: "n1", status: backoff(100, 50) }];
    expect(nextDueTimer({ config, tasks, orphanTimers: [], nodesDueSec: 130 }, 110)).toEqual({
      atSec: 130,
      what: "nodes",
    });
    expect(nextDueTimer({ config, tasks, orphanTimers: [], nodesDueSec: 110 }, 110)).toEqual({
      atSec: 150,
      what: "backoff",
    });
  });
});

describe("addTimeNextChange", () => {
  const prefs = (schedule: unknown[]) => ({ parent_level: "instance", schedule });
  const nodesAt = (now: number, schedule: unknown[]) =>
    JSON.stringify(addTimeNodes({ levels: ["t"], instanceName: "i", nodes: [], now, prefs: prefs(schedule) }));
  const schedules: unknown[][] = [
    [{ lifetime: 4, enabled_lifetime: 3, cron: { epoch: { period: 4 } } }],
    [{ lifetime: 10, cron: { epoch: { period: 7 } } }],
    [
      { lifetime: 9, enabled_lifetime: 2, cron: { epoch: { period: 5 } } },
      { lifetime: 3, cron: { epoch: { period: 6, start: 1 } } },
    ],
  ];

  it.each(schedules.map((s, i) => [i, s] as const))(
    "schedule %i: nothing changes before it (and, with one item, something changes at it)",
    (_, s) => {
      for (let now = 0; now < 60; now++) {
        const next = addTimeNextChange({ prefs: prefs(s), now });
        expect(next).not.toBeNull();
        const at = next as number;
        expect(at).toBeGreaterThan(now);
        for (let t = now + 1; t < at; t++) expect(nodesAt(t, s)).toBe(nodesAt(now, s));
        // With several items a predicted change can be masked by another item (a spare wake-up, harmless).
        if (s.length === 1) expect(nodesAt(at, s)).not.toBe(nodesAt(now, s));
      }
    },
  );

  it("is what a refresh uses: the earliest over the configured sources", () => {
    const settings = {
      levels: ["t"],
      nodeSources: [
        { source: "add_time", prefs: prefs(schedules[0] as unknown[]) },
        { source: "manual", prefs: { instance: ["x"] } },
      ],
    };
    expect(nextNodeChangeSec(settings, 5)).toBe(addTimeNextChange({ prefs: prefs(schedules[0] as unknown[]), now: 5 }));
    expect(nextNodeChangeSec({ levels: ["t"], nodeSources: [] }, 5)).toBeNull();
  });
});

describe("isWakeMessage", () => {
  it("accepts exactly the wake-up body", () => {
    expect(isWakeMessage(JSON.stringify({ type: "wake", atMs: 1_790_000_000_000 }))).toBe(true);
  });

  it.each([
    ["not JSON", "wake"],
    ["a status message", JSON.stringify({ ends: [] })],
    ["a missing time", JSON.stringify({ type: "wake" })],
    ["a fractional time", JSON.stringify({ type: "wake", atMs: 1.5 })],
    ["an extra field", JSON.stringify({ type: "wake", atMs: 1, ends: [] })],
    ["an array", "[]"],
  ])("refuses %s", (_, body) => {
    expect(isWakeMessage(body)).toBe(false);
  });
});

describe("wake-ups in status ingestion", () => {
  // Never touched: a wake-up reads and writes nothing.
  const store = new Proxy(
    {},
    {
      get: () => {
        throw new Error("the store was used");
      },
    },
  ) as never;
  const wake = JSON.stringify({ type: "wake", atMs: 1_790_000_000_000 });

  it("asks for a round and changes nothing, whoever sent it", async () => {
    const poke = jest.fn(() => Promise.resolve());
    const result = await ingestStatuses({ store, clock: () => 0, poke }, [{ id: "m1", body: wake }]);
    expect(result).toEqual({ failed: [], applied: 0, ignored: 0, refused: 0 });
    expect(poke).toHaveBeenCalledTimes(1);
  });

  it("treats a body that is almost a wake-up as a malformed status, and does not poke for it", async () => {
    const poke = jest.fn(() => Promise.resolve());
    const body = JSON.stringify({ type: "wake", atMs: 1, extra: true });
    const result = await ingestStatuses({ store, clock: () => 0, poke }, [{ id: "m1", body }]);
    expect(result.failed.map((f) => f.id)).toEqual(["m1"]);
    expect(poke).not.toHaveBeenCalled();
  });
});
