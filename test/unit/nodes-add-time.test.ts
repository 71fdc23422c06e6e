// The `add_time` node source (lib/nodes/add-time.ts) with the cases of Bistro's
// TestAddTimeFetcher: lifetime, enabled_lifetime, several items (tags unioned, enabled ANDed),
// standard cron in a time zone, and the errors.
import {
  addTimeNodes,
  builtinNodeSources,
  loadNodes,
  MAX_ADD_TIME_SLOTS,
  type NodeSourceContext,
} from "../../lib/nodes";
import type { NodeSpec } from "../../lib/model/tree";
import { nodeContext } from "../helpers/node-context";

const INSTANCE = "inst";

function fetch(now: number, schedule: unknown[], extra: Record<string, unknown> = {}): NodeSpec[] {
  const context: NodeSourceContext = nodeContext({
    levels: ["my_level"],
    instanceName: INSTANCE,
    now,
    prefs: { parent_level: "instance", schedule, ...extra },
  });
  return addTimeNodes(context);
}

/** Bistro's check_schedule: times of the nodes (negative = disabled), sorted by name, and their tags. */
function slots(now: number, ...schedule: unknown[]): { times: number[]; tags: string[][] } {
  const nodes = [...fetch(now, schedule)].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const node of nodes) {
    expect(node.level).toBe("my_level");
    expect(node.parent).toBe(INSTANCE);
  }
  return {
    times: nodes.map((node) => {
      const time = Number(node.name.slice(`${INSTANCE}:`.length));
      return node.enabled === false ? -time : time;
    }),
    tags: nodes.map((node) => node.tags ?? []),
  };
}
const times = (now: number, ...schedule: unknown[]) => slots(now, ...schedule).times;
const every = (period: number, extra: Record<string, unknown> = {}) => ({ epoch: { period, ...extra } });

describe("add_time (Bistro's TestAddTimeFetcher)", () => {
  it("requires a lifetime", () => {
    expect(() => fetch(4, [{ cron: every(4) }])).toThrow("each item needs a lifetime");
  });

  it("keeps a slot for its lifetime", () => {
    const l1 = { lifetime: 1, cron: every(4) };
    expect(times(4, l1)).toEqual([4]);
    expect(times(5, l1)).toEqual([]);
    expect(times(7, l1)).toEqual([]);
    expect(times(8, l1)).toEqual([8]);
    const l3 = { lifetime: 3, cron: every(4) };
    expect(times(4, l3)).toEqual([4]);
    expect(times(6, l3)).toEqual([4]);
    expect(times(7, l3)).toEqual([]);
    expect(times(8, l3)).toEqual([8]);
  });

  it("disables a slot after its enabled_lifetime", () => {
    const item = { lifetime: 4, enabled_lifetime: 3, cron: every(4) };
    expect(times(4, item)).toEqual([4]);
    expect(times(6, item)).toEqual([4]);
    expect(times(7, item)).toEqual([-4]);
    expect(times(8, item)).toEqual([8]);
  });

  it("keeps a realistic window of enabled and disabled slots", () => {
    for (const t of [0, 5, 77, 89]) {
      const item = { lifetime: 720, enabled_lifetime: 360, cron: every(90) };
      expect(times(990 + t, item)).toEqual([-360, -450, -540, -630, 720, 810, 900, 990]);
    }
  });

  it("handles periods near the current time, lifetimes beyond the period, and offsets", () => {
    expect(times(10, { lifetime: 7, cron: every(7) })).toEqual([7]);
    const i8 = { lifetime: 8, cron: every(8) };
    expect(times(7, i8)).toEqual([0]);
    expect(times(8, i8)).toEqual([8]);
    expect(times(9, i8)).toEqual([8]);
    for (const lifetime of [1, 2]) expect(times(6, { lifetime, cron: every(2) })).toEqual([6]);
    expect(times(6, { lifetime: 3, cron: every(2) })).toEqual([4, 6]);
    expect(times(9, { lifetime: 6, cron: every(6, { start: 2 }) })).toEqual([8]);
    expect(times(9, { lifetime: 8, cron: every(6, { start: 2 }) })).toEqual([2, 8]);
  });

  it("unions the tags of items that land on one slot", () => {
    const x = { lifetime: 8, tags: ["x"], cron: every(2, { start: 1 }) };
    const y = { lifetime: 6, tags: ["y"], cron: every(3, { start: 2 }) };
    expect(slots(30, x, y)).toEqual({
      times: [23, 25, 26, 27, 29],
      tags: [["x"], ["x"], ["y"], ["x"], ["x", "y"]],
    });
  });

  it("disables a shared slot if any of its items disables it (AND)", () => {
    const enabledLong = { lifetime: 10, cron: every(5) };
    const enabledShort = { lifetime: 10, enabled_lifetime: 2, cron: every(5) };
    // Sorted by name: "inst:10" before "inst:5".
    expect(times(13, enabledLong)).toEqual([10, 5]);
    expect(times(13, enabledLong, enabledShort)).toEqual([-10, -5]);
  });

  it("reads standard cron items on the zone's clock (Bistro's TestStandardCron, US Pacific)", () => {
    const item = {
      lifetime: 14400,
      enabled_lifetime: 900,
      cron: { minute: [33, 47, 58], hour: { start: 1, period: 4 }, dst_fixes: ["skip", "repeat_use_both"] },
    };
    const nodes = fetch(50000, [item], { time_zone: "America/Los_Angeles" });
    const result = nodes.map((node) => (node.enabled === false ? -1 : 1) * Number(node.name.split(":")[1]));
    expect(result).toEqual([-35880, -48780, 49620]);
  });

  it("defaults to UTC for standard items", () => {
    const item = { lifetime: 3600, cron: { minute: 0, dst_fixes: ["skip", "repeat_use_both"] } };
    expect(times(7200 + 60, item)).toEqual([7200]);
  });

  it("names nodes by format and adds a child per parent, after the earlier sources", async () => {
    const tree = await loadNodes(
      {
        levels: ["host", "slot"],
        nodeSources: [
          { source: "manual", prefs: { h1: [], h2: [] } },
          {
            source: "add_time",
            prefs: {
              parent_level: "host",
              format: "{parent}@{time}",
              schedule: [{ lifetime: 120, tags: ["min"], cron: every(60) }],
            },
          },
        ],
      },
      INSTANCE,
      180,
      builtinNodeSources(),
    );
    expect(tree.names.toArray()).toEqual([INSTANCE, "h1", "h2", "h1@120", "h1@180", "h2@120", "h2@180"]);
    expect(tree.tags[3]).toEqual(["min"]);
  });

  it.each([
    [{ schedule: {} }, '"schedule" must be an array'],
    [{ schedule: [5] }, 'schedule.0: "schedule" items must be objects'],
    [{ schedule: [{ lifetime: 5 }] }, 'schedule.0: each item needs a "cron"'],
    [{ schedule: [{ lifetime: -5, cron: every(5) }] }, "schedule.0.lifetime must be a whole number of seconds >= 1"],
    [{ schedule: [{ lifetime: 5, tags: "x", cron: every(5) }] }, '"tags" must be an array of strings'],
    [
      { schedule: [{ lifetime: 5, cron: { minute: 0 } }] },
      'schedule.0.cron: Specify DST handling in the "dst_fixes" list',
    ],
    [{ time_zone: "Mars/Olympus" }, 'unknown time zone "Mars/Olympus"'],
    [{ format: "{parent}:{when}" }, "unknown placeholder {when}"],
  ])("refuses %j", (prefs, message) => {
    expect(() => fetch(100, [], prefs)).toThrow(message);
  });

  it(`refuses more than ${MAX_ADD_TIME_SLOTS} slots per parent`, () => {
    expect(() => fetch(10_000_000, [{ lifetime: 10_000_000, cron: every(1) }])).toThrow(
      `more than ${MAX_ADD_TIME_SLOTS} slots`,
    );
  });
});
