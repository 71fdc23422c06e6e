// The node-set encoding (columns, gzip, content hash) and when a nodes refresh is due.
import { gzipSync } from "node:zlib";
import { decodeNodes, decodeTree, encodeNodes, encodeRows, treeRows } from "../../lib/nodes/codec";
import { buildNodeTree, pathToNode, type NodeSpec } from "../../lib/model/tree";
import { nextDueMs, refreshDue, type NodeRefreshTimings } from "../../lib/round/node-refresh";
import type { NodeRefreshMark } from "../../lib/store/scheduler-state";

const nodes: NodeSpec[] = [
  { name: "h1", level: "host", parent: "scheduler" },
  { name: "h2", level: "host", parent: "scheduler", enabled: false },
  { name: "d1", level: "db", parent: "h1", tags: ["gold", "eu", "eu"] },
  { name: "d2", level: "db", parent: "h2", enabled: true },
  { name: "x", level: "db", parent: "elsewhere" },
];

describe("node set codec", () => {
  it("round-trips names, levels, parents (inside and outside the set), enabled and sorted unique tags", () => {
    const encoded = encodeNodes(nodes);
    expect(encoded.count).toBe(5);
    expect(decodeNodes(encoded.body)).toEqual([
      { name: "h1", level: "host", parent: "scheduler", enabled: true },
      { name: "h2", level: "host", parent: "scheduler", enabled: false },
      { name: "d1", level: "db", parent: "h1", enabled: true, tags: ["eu", "gold"] },
      { name: "d2", level: "db", parent: "h2", enabled: true },
      { name: "x", level: "db", parent: "elsewhere", enabled: true },
    ]);
  });

  it("gives equal hashes for equal content (also after a round trip) and different ones otherwise", () => {
    const a = encodeNodes(nodes);
    expect(encodeNodes(decodeNodes(a.body)).hash).toBe(a.hash);
    expect(encodeNodes(nodes.slice(0, 4)).hash).not.toBe(a.hash);
    const retagged = nodes.map((n) => (n.name === "d1" ? { ...n, tags: ["eu"] } : n));
    expect(encodeNodes(retagged).hash).not.toBe(a.hash);
    const disabled = nodes.map((n) => (n.name === "d2" ? { ...n, enabled: false } : n));
    expect(encodeNodes(disabled).hash).not.toBe(a.hash);
    expect(encodeNodes([]).count).toBe(0);
    expect(decodeNodes(encodeNodes([]).body)).toEqual([]);
  });

  it("stores 100k nodes in a few bytes each", () => {
    const many: NodeSpec[] = [];
    for (let h = 0; h < 100; h++) {
      many.push({ name: `host${h}`, level: "host", parent: "scheduler" });
      for (let d = 0; d < 999; d++) many.push({ name: `host${h}.db${d}`, level: "db", parent: `host${h}` });
    }
    const encoded = encodeNodes(many);
    expect(encoded.body.length / many.length).toBeLessThan(8);
    expect(decodeNodes(encoded.body)[1]).toEqual({ name: "host0.db0", level: "db", parent: "host0", enabled: true });
  });
});

describe("node set codec, format 2", () => {
  it("reads sets stored in format 1 (a gzipped JSON document of columns)", () => {
    const format1 = {
      v: 1,
      levels: ["host", "db"],
      names: ["h1", "d1", "x"],
      level: [0, 1, 1],
      parent: ["scheduler", 1, "elsewhere"],
      disabled: [2],
      tags: ["eu"],
      tagged: [[1, 0]],
    };
    expect(decodeNodes(gzipSync(JSON.stringify(format1)))).toEqual([
      { name: "h1", level: "host", parent: "scheduler", enabled: true },
      { name: "d1", level: "db", parent: "h1", enabled: true, tags: ["eu"] },
      { name: "x", level: "db", parent: "elsewhere", enabled: false },
    ]);
    expect(() => decodeNodes(gzipSync("garbage"))).toThrow(/Unknown node set format/);
  });

  it("front-codes names whatever their characters (multi-byte, long, sharing a prefix or not)", () => {
    const names = ["ville", "villé", "villégiature", "日本", "日本語", "a".repeat(900), "a".repeat(899) + "é", "b"];
    const specs: NodeSpec[] = names.map((name) => ({ name, level: "host", parent: "scheduler" }));
    expect(decodeNodes(encodeNodes(specs).body).map((node) => node.name)).toEqual(names);
  });

  it("stores a tree from its columns and reads it back into the same tree, replicas included", () => {
    const levels = ["host", "db"];
    const tree = buildNodeTree(levels, "i", [
      { name: "h1", level: "host", parent: "i" },
      { name: "h2", level: "host", parent: "i", enabled: false },
      { name: "db", level: "db", parent: "h1", tags: ["b", "a"] },
      { name: "db", level: "db", parent: "h2" },
    ]);
    const encoded = encodeRows(treeRows(tree));
    const back = decodeTree(levels, "i", encoded.body);
    expect(back.names.toArray()).toEqual(tree.names.toArray());
    expect([...back.parentOf]).toEqual([...tree.parentOf]);
    expect(back.enabled).toEqual(tree.enabled);
    expect(back.tags[3]).toEqual(["a", "b"]);
    expect(back.replicas.get("db")?.map((n) => pathToNode(back, n).join("/"))).toEqual(["i/h1/db", "i/h2/db"]);
    expect(encodeRows(treeRows(back)).hash).toBe(encoded.hash);
  });
});

describe("refreshDue", () => {
  const timings: NodeRefreshTimings = { updateMs: 300_000, retryMs: 30_000 };
  const mark: NodeRefreshMark = {
    sourcesHash: "s",
    inputs: { "1": "v1" },
    setVersion: 3,
    setSourcesHash: "s",
    refreshedAtMs: 1_000_000,
    attemptedAtMs: 1_000_000,
    error: null,
  };

  it("is due before any refresh, after the period, and at once when settings or inputs change", () => {
    expect(refreshDue(undefined, "s", {}, 0, timings)).toBe(true);
    expect(refreshDue(mark, "s", { "1": "v1" }, 1_299_999, timings)).toBe(false);
    expect(refreshDue(mark, "s", { "1": "v1" }, 1_300_000, timings)).toBe(true);
    expect(refreshDue(mark, "other", { "1": "v1" }, 1_000_001, timings)).toBe(true);
    expect(refreshDue(mark, "s", { "1": "v2" }, 1_000_001, timings)).toBe(true);
    expect(nextDueMs(mark, timings)).toBe(1_300_000);
  });

  it("after a failure, waits nodes_retry_ms from the attempt", () => {
    const failed = { ...mark, attemptedAtMs: 1_300_000, error: "boom" };
    expect(refreshDue(failed, "s", { "1": "v1" }, 1_329_999, timings)).toBe(false);
    expect(refreshDue(failed, "s", { "1": "v1" }, 1_330_000, timings)).toBe(true);
    expect(nextDueMs(failed, timings)).toBe(1_330_000);
  });
});
