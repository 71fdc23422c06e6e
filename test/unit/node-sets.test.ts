// The node-set encoding (columns, gzip, content hash) and when a nodes refresh is due.
import { decodeNodes, encodeNodes } from "../../lib/nodes/codec";
import type { NodeSpec } from "../../lib/model/tree";
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
