// Node sources: manual, range_label and empty, the registry, and one
// nodes refresh (loadNodes) building the NodeTree, with the fixtures under events/bistro/.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  builtinNodeSources,
  compileFormat,
  fetchNodeSpecs,
  loadNodes,
  manualNodes,
  NodeSourceError,
  NodeSourceRegistry,
  rangeLabelNodes,
  type NodeSettings,
  type NodeSource,
  type NodeSourceContext,
} from "../../lib/nodes";
import type { NodeSpec } from "../../lib/model/tree";
import { pathToNode } from "../../lib/model/tree";
import { bistroFixture, parseValid } from "../helpers/config";
import { nodeContext } from "../helpers/node-context";

function context(prefs: Record<string, unknown>, levels: string[], nodes: NodeSpec[] = []): NodeSourceContext {
  return nodeContext({ levels, instanceName: "inst", nodes, now: 1_700_000_000, prefs });
}

function names(specs: readonly NodeSpec[]): string[] {
  return specs.map((spec) => spec.name);
}

function settings(levels: string[], ...nodeSources: [string, Record<string, unknown>][]): NodeSettings {
  return { levels, nodeSources: nodeSources.map(([source, prefs]) => ({ source, prefs })) };
}

describe("manual source", () => {
  it("hangs roots under the instance and children one level down (Bistro's HandleValid)", () => {
    const prefs = { node11: ["node111", "node112"], node1: ["node11", "node12"], node2: ["node21", "node22"] };
    expect(manualNodes(context(prefs, ["level1", "level2", "level3"]))).toEqual([
      { name: "node1", level: "level1", parent: "inst", enabled: true },
      { name: "node11", level: "level2", parent: "node1", enabled: true },
      { name: "node111", level: "level3", parent: "node11", enabled: true },
      { name: "node112", level: "level3", parent: "node11", enabled: true },
      { name: "node12", level: "level2", parent: "node1", enabled: true },
      { name: "node2", level: "level1", parent: "inst", enabled: true },
      { name: "node21", level: "level2", parent: "node2", enabled: true },
      { name: "node22", level: "level2", parent: "node2", enabled: true },
    ]);
  });

  it("takes a string as one child and an empty array as no children", () => {
    expect(manualNodes(context({ a: "b", c: [] }, ["l1", "l2"]))).toEqual([
      { name: "a", level: "l1", parent: "inst", enabled: true },
      { name: "b", level: "l2", parent: "a", enabled: true },
      { name: "c", level: "l1", parent: "inst", enabled: true },
    ]);
  });

  it("reads {children, disabled}: the mere presence of disabled disables, whatever its value", () => {
    const prefs = { node1: { children: ["node11", "node12"], disabled: true }, node12: { disabled: false }, node2: {} };
    expect(manualNodes(context(prefs, ["level1", "level2"]))).toEqual([
      { name: "node1", level: "level1", parent: "inst", enabled: false },
      { name: "node11", level: "level2", parent: "node1", enabled: true },
      { name: "node12", level: "level2", parent: "node1", enabled: false },
      { name: "node2", level: "level1", parent: "inst", enabled: true },
    ]);
  });

  it("fails when a node would sit below the last level", () => {
    expect(() => manualNodes(context({ node1: "node2", node2: "node3" }, ["level1", "level2"]))).toThrow(
      new NodeSourceError("Node node3 would be at level 3 but the maximum is 2"),
    );
    expect(() => manualNodes(context({ only: [] }, []))).toThrow("Node only would be at level 1 but the maximum is 0");
  });

  it("fails with no roots: a cycle, or no nodes at all", () => {
    expect(() => manualNodes(context({ node1: "node2", node2: "node1" }, ["level1", "level2"]))).toThrow(
      "No top level nodes are defined",
    );
    expect(() => manualNodes(context({}, ["level1"]))).toThrow("No top level nodes are defined");
  });

  it("rejects values that are not names, lists of names or {children}", () => {
    expect(() => manualNodes(context({ a: 5 }, ["l"]))).toThrow(/^Node a: expected a child name, an array/);
    expect(() => manualNodes(context({ a: [1] }, ["l", "m"]))).toThrow("Node a: child names must be strings, found 1");
    expect(() => manualNodes(context({ a: { children: "b" } }, ["l", "m"]))).toThrow(
      'Node a: "children" must be an array of node names, found "b"',
    );
  });
});

describe("range_label source", () => {
  const one = (prefs: Record<string, unknown>): string[] =>
    names(rangeLabelNodes(context({ parent_level: "instance", ...prefs }, ["my_level"])));

  it('names children "{parent}__{i}" by default, start..end inclusive', () => {
    expect(one({ start: 3, end: 5 })).toEqual(["inst__3", "inst__4", "inst__5"]);
  });

  it("accepts integer strings, as Bistro's own tests pass them", () => {
    expect(one({ start: "-1", end: "1", format: "c{i}" })).toEqual(["c-1", "c0", "c1"]);
  });

  it("fills {parent}, {i}, {start}, {end}, literal braces and [[fill]align]width", () => {
    expect(one({ start: 2, end: 3, format: "{parent}_{i}_{start}_{end}" })).toEqual(["inst_2_2_3", "inst_3_2_3"]);
    expect(one({ start: 9, end: 10, format: "{{db}}_{i:0>3}" })).toEqual(["{db}_009", "{db}_010"]);
    expect(
      compileFormat("[{i:<3}|{i:^4}]", ["parent", "i", "start", "end"])({ parent: "p", i: "7", start: "0", end: "0" }),
    ).toBe("[7  | 7  ]");
  });

  it("makes nothing for an empty range", () => {
    expect(one({ start: 3, end: 2 })).toEqual([]);
  });

  it("makes children for every parent at parent_level, enabled per the enabled pref", () => {
    const parents: NodeSpec[] = [
      { name: "h1", level: "host", parent: "inst" },
      { name: "h2", level: "host", parent: "inst" },
    ];
    const made = rangeLabelNodes(
      context(
        { parent_level: "host", start: 1, end: 2, format: "{parent}:db_{i}", enabled: "false" },
        ["host", "db"],
        parents,
      ),
    );
    expect(made).toEqual([
      { name: "h1:db_1", level: "db", parent: "h1", enabled: false },
      { name: "h1:db_2", level: "db", parent: "h1", enabled: false },
      { name: "h2:db_1", level: "db", parent: "h2", enabled: false },
      { name: "h2:db_2", level: "db", parent: "h2", enabled: false },
    ]);
  });

  it.each([
    [{ start: 1, end: 2 }, /^"parent_level" is required/],
    [
      { parent_level: "bork", start: 1, end: 2 },
      /^parent_level "bork" is not a known level; levels are "instance", "my_level"$/,
    ],
    [{ parent_level: "my_level", start: 1, end: 2 }, /^You must define at least 2 levels/],
    [{ parent_level: "instance", end: 2 }, /^"start" is required/],
    [{ parent_level: "instance", start: 1, end: 2.5 }, /^"end" must be an integer, found 2.5$/],
    [{ parent_level: "instance", start: 1, end: 2, enabled: "maybe" }, /^"enabled" must be true or false/],
    [{ parent_level: "instance", start: 1, end: 2, format: "{host}" }, /unknown placeholder \{host\}/],
    [{ parent_level: "instance", start: 1, end: 2, format: "db_{i" }, /unmatched "\{"/],
    [{ parent_level: "instance", start: 1, end: 2, format: "db_}" }, /unmatched "\}"/],
    [{ parent_level: "instance", start: 1, end: 2, format: "{i:03d}" }, /is not supported/],
    [
      { parent_level: "instance", start: 0, end: 1e9 },
      /would create 1000000001 nodes per parent: that is 1,000,000,001; the limit is 1,000,000 \(MAX_NODES\)/,
    ],
  ])("rejects prefs %j", (prefs, message) => {
    expect(() => rangeLabelNodes(context(prefs, ["my_level"]))).toThrow(message);
  });
});

describe("NodeSourceRegistry", () => {
  it("holds the built-in sources and refuses a name twice", () => {
    const registry = builtinNodeSources();
    expect(registry.names()).toEqual(["manual", "range_label", "add_time", "empty"]);
    expect(() => registry.register({ name: "manual", fetch: () => [] })).toThrow("Duplicate node source: manual");
  });

  it("empty adds nothing", async () => {
    const tree = await loadNodes(settings(["a"], ["empty", {}]), "inst", 0);
    expect(tree.size).toBe(1);
  });
});

describe("loadNodes: one refresh, sources in order", () => {
  it("builds Bistro's simple tree from the simple fixture", async () => {
    const tree = await loadNodes(parseValid(bistroFixture("simple.json")).settings, "scheduler", 0);
    expect(tree.levels).toEqual(["instance", "level1", "level2"]);
    expect(tree.byLevel.map((level) => Array.from(level, (n) => tree.names.at(n)))).toEqual([
      ["scheduler"],
      ["node1", "node2"],
      ["node11", "node12", "node21", "node22"],
    ]);
    expect(pathToNode(tree, tree.indexOf.get("node21")!)).toEqual(["scheduler", "node2", "node21"]);
  });

  it("builds 1 + 3 + 15 nodes for the db-hosts fixture, range_label reading manual's hosts", async () => {
    const tree = await loadNodes(parseValid(bistroFixture("db-hosts.json")).settings, "inst", 0);
    expect(tree.size).toBe(19);
    expect(Array.from(tree.byLevel[1] ?? [], (n) => tree.names.at(n))).toEqual([
      "aardvark.example.com",
      "bobcat.example.com",
      "capybara.example.com",
    ]);
    expect(tree.byLevel[2]).toHaveLength(15);
    expect(tree.enabled[tree.indexOf.get("bobcat.example.com")!]).toBe(0);
    const db = tree.indexOf.get("capybara.example.com:db_5")!;
    expect(pathToNode(tree, db)).toEqual(["inst", "capybara.example.com", "capybara.example.com:db_5"]);
  });

  it("ignores the legacy single-source form, as Bistro does: only the instance node", async () => {
    const legacy = await loadNodes(parseValid(bistroFixture("legacy-node-source.json")).settings, "i", 0);
    expect(legacy.names.toArray()).toEqual(["i"]);
  });

  it("has only the instance node without sources", async () => {
    const tree = await loadNodes(settings(["a"]), "inst", 0);
    expect(tree.names.toArray()).toEqual(["inst"]);
  });

  it('fails on an unknown source with "Invalid node source: X", naming the entry', async () => {
    await expect(loadNodes(settings(["a"], ["manual", { x: [] }], ["tier_services", {}]), "inst", 0)).rejects.toThrow(
      new NodeSourceError("bistro_settings.nodes.node_sources.1: Invalid node source: tier_services"),
    );
  });

  it("names the entry and source when a source fails", async () => {
    await expect(loadNodes(settings(["a"], ["manual", {}]), "inst", 0)).rejects.toThrow(
      "bistro_settings.nodes.node_sources.0 (manual): No top level nodes are defined",
    );
  });

  it("plugs in other sources (async, reading now and earlier nodes) through the registry", async () => {
    const seen: { now: number; earlier: string[]; count: number }[] = [];
    const periodic: NodeSource = {
      name: "every_hour",
      fetch: async ({ namesAt, count, now, prefs }) => {
        await Promise.resolve();
        const parents = namesAt(String(prefs.parent_level));
        seen.push({ now, earlier: [...parents], count });
        const hour = Math.floor(now / 3600) * 3600;
        return parents.map((name) => ({ name: `${name}:${hour}`, level: "time", parent: name, tags: ["hourly"] }));
      },
    };
    const registry = builtinNodeSources().register(periodic);
    const tree = await loadNodes(
      settings(["host", "time"], ["manual", { h1: [], h2: [] }], ["every_hour", { parent_level: "host" }]),
      "inst",
      7300,
      registry,
    );
    expect(seen).toEqual([{ now: 7300, earlier: ["h1", "h2"], count: 2 }]);
    expect(tree.names.toArray()).toEqual(["inst", "h1", "h2", "h1:7200", "h2:7200"]);
    expect(tree.tags[3]).toEqual(["hourly"]);
  });

  it.each<[string, NodeSpec[], RegExp]>([
    ["an unknown level", [{ name: "x", level: "rack", parent: "inst" }], /Node x has unknown level rack/],
    ["an unknown parent", [{ name: "x", level: "a", parent: "nobody" }], /Node x has unknown parent nobody/],
    [
      "a parent two levels up",
      [{ name: "x", level: "b", parent: "inst" }],
      /Node x at level b has parent inst, which is not one level up/,
    ],
    [
      "the instance's name",
      [{ name: "inst", level: "a", parent: "inst" }],
      /Node inst is defined at levels 0 and 1; a name may repeat only within one level/,
    ],
    ["an empty name", [{ name: "", level: "a", parent: "inst" }], /a node has an empty name/],
    ["a lone surrogate", [{ name: "db\ud800", level: "a", parent: "inst" }], /not valid Unicode/],
  ])("rejects a source producing %s", async (_what, produced, message) => {
    const registry = new NodeSourceRegistry([{ name: "bad", fetch: () => produced }]);
    await expect(fetchNodeSpecs(settings(["a", "b"], ["bad", {}]), "inst", 0, registry)).rejects.toThrow(message);
  });

  it("wraps any error a plugged-in source throws, keeping the cause", async () => {
    const cause = new Error("script exited");
    const registry = new NodeSourceRegistry([{ name: "script", fetch: () => Promise.reject(cause) }]);
    const failure = fetchNodeSpecs(settings(["a"], ["script", {}]), "inst", 0, registry);
    await expect(failure).rejects.toMatchObject({
      name: "NodeSourceError",
      message: "bistro_settings.nodes.node_sources.0 (script): script exited",
      cause,
    });
  });
});

describe("manual, range_label, add_time and empty stay pure", () => {
  it.each([
    "source.ts",
    "manual.ts",
    "range-label.ts",
    "format.ts",
    "add-time.ts",
    "cron.ts",
    "cron-selector.ts",
    "time-zone.ts",
    "empty.ts",
  ])("%s imports only the model, the limits and its siblings", (file) => {
    const text = readFileSync(join(__dirname, "..", "..", "lib", "nodes", file), "utf8");
    const imports = [...text.matchAll(/from "([^"]+)"/g)].map((match) => match[1]);
    expect(
      imports.filter((path) => !/^\.\/[a-z-]+$|^\.\.\/model\/[a-z]+$|^\.\.\/config\/limits$/.test(path ?? "")),
    ).toEqual([]);
  });
});
