// Bistro's node replicas (one name under several parents of a level): the tree keeps every copy,
// children find their parent's copy, a task is per name (one start per round, the name's
// resources shared by the copies, as in Bistro's ReplicaTest), and an orphan only when no copy
// is enabled.
import { anyCopyEnabled, buildNodeTree, NodeTreeError, pathToNode } from "../../lib/model/tree";
import { builtinNodeSources, loadNodes } from "../../lib/nodes";
import { planRound } from "../../lib/scheduler/plan";
import type { TaskRecord } from "../../lib/scheduler/snapshot";
import { makeConfig, makeSnapshot, makeTree, seededRng } from "../helpers/model";

const NOW = 1_000_000;

describe("replicas in the node tree", () => {
  it("keeps every copy, the first copy's number for the name, and each copy's own parent", async () => {
    // Bistro's ReplicaTest nodes: manual {host1: ["db"], host2: ["db"]}.
    const tree = await loadNodes(
      { levels: ["host", "db"], nodeSources: [{ source: "manual", prefs: { host1: ["db"], host2: ["db"] } }] },
      "inst",
      0,
      builtinNodeSources(),
    );
    expect(tree.names.toArray()).toEqual(["inst", "host1", "db", "host2", "db"]);
    expect(tree.replicas.get("db")).toEqual([2, 4]);
    expect(tree.indexOf.get("db")).toBe(2);
    expect([pathToNode(tree, 2), pathToNode(tree, 4)]).toEqual([
      ["inst", "host1", "db"],
      ["inst", "host2", "db"],
    ]);
  });

  it("hangs a replicated parent's children under the copy they were listed for", () => {
    const levels = ["host", "db", "table"];
    // As manual lists them (each copy then its children) and as range_label does (per parent copy).
    const manualOrder = buildNodeTree(levels, "i", [
      { name: "h1", level: "host", parent: "i" },
      { name: "db", level: "db", parent: "h1" },
      { name: "t", level: "table", parent: "db" },
      { name: "h2", level: "host", parent: "i" },
      { name: "db", level: "db", parent: "h2" },
      { name: "t", level: "table", parent: "db" },
    ]);
    expect(manualOrder.replicas.get("t")?.map((n) => pathToNode(manualOrder, n).join("/"))).toEqual([
      "i/h1/db/t",
      "i/h2/db/t",
    ]);
    const perParent = buildNodeTree(levels, "i", [
      { name: "h1", level: "host", parent: "i" },
      { name: "h2", level: "host", parent: "i" },
      { name: "db", level: "db", parent: "h1" },
      { name: "db", level: "db", parent: "h2" },
      { name: "db__1", level: "table", parent: "db" },
      { name: "db__1", level: "table", parent: "db" },
    ]);
    expect(perParent.replicas.get("db__1")?.map((n) => pathToNode(perParent, n).join("/"))).toEqual([
      "i/h1/db/db__1",
      "i/h2/db/db__1",
    ]);
  });

  it("refuses a name at two levels, or the instance's name", async () => {
    expect(() =>
      buildNodeTree(["a", "b"], "i", [
        { name: "x", level: "a", parent: "i" },
        { name: "x", level: "b", parent: "x" },
      ]),
    ).toThrow(NodeTreeError);
    await expect(
      loadNodes(
        {
          levels: ["a", "b"],
          nodeSources: [
            { source: "manual", prefs: { x: [] } },
            { source: "manual", prefs: { z: ["x"] } },
          ],
        },
        "i",
        0,
        builtinNodeSources(),
      ),
    ).rejects.toThrow("a name may repeat only within one level");
    expect(() => buildNodeTree(["a"], "i", [{ name: "i", level: "a", parent: "i" }])).toThrow(NodeTreeError);
  });

  it("counts a name enabled while any copy is", () => {
    const tree = makeTree(["host", "db"], { h1: ["db"], h2: ["db"] }, { disabled: ["db"] });
    expect(anyCopyEnabled(tree, "db")).toBe(false);
    const one = buildNodeTree(["host", "db"], "i", [
      { name: "h1", level: "host", parent: "i" },
      { name: "h2", level: "host", parent: "i" },
      { name: "db", level: "db", parent: "h1", enabled: false },
      { name: "db", level: "db", parent: "h2" },
    ]);
    expect(anyCopyEnabled(one, "db")).toBe(true);
    expect(anyCopyEnabled(one, "ghost")).toBe(false);
  });
});

describe("replicas in a round (Bistro's ReplicaTest)", () => {
  const replicaTree = () => makeTree(["host", "db"], { host1: ["db"], host2: ["db"] });
  const config = (resources = { db: { db_concurrency: { limit: 1, default: 1 } } }, settings = {}) =>
    makeConfig(
      { enabled: true, levels: ["host", "db"], nodeOrder: "lexicographic", resources, ...settings },
      { job: {} },
    );
  const plan = (snapshot: ReturnType<typeof makeSnapshot>) => planRound(snapshot, NOW, seededRng(1));
  /** A task of `job` on `db` that started on either copy (its usage names the shared name only). */
  const runningOnDb = (): TaskRecord => ({
    job: "job",
    node: "db",
    running: {
      attemptId: "a1",
      workerId: "w1",
      startTimeSec: NOW - 5,
      usage: [{ node: "db", level: "db", resources: { db_concurrency: 1 } }],
      nextBackoff: { noMoreBackoffs: false, seconds: 15 },
    },
  });

  it("starts the name once, on one copy, charging the copies' shared slot", () => {
    const result = plan(makeSnapshot(config(), replicaTree()));
    expect(result.starts.map((s) => s.node)).toEqual(["db"]);
    expect(result.starts[0]?.usage).toEqual([{ node: "db", level: "db", resources: { db_concurrency: 1 } }]);
  });

  it("starts the name once even where no resource would stop the second copy", () => {
    const result = plan(makeSnapshot(config({} as never), replicaTree()));
    expect(result.starts.map((s) => `${s.job}:${s.node}`)).toEqual(["job:db"]);
  });

  it("a task running on either copy uses the shared slot and blocks the name (EnsureBothReplicasCanRun)", () => {
    const result = plan(makeSnapshot(config(), replicaTree(), { tasks: [runningOnDb()] }));
    expect(result.starts).toEqual([]);
    expect(result.kills).toEqual([]);
  });

  it("charges each copy's own ancestors: a full host1 leaves the host2 copy to run", () => {
    const resources = {
      host: { host_slots: { limit: 1, default: 1 } },
      db: { db_concurrency: { limit: 2, default: 1 } },
    };
    const busyHost1: TaskRecord = {
      job: "other",
      node: "x",
      running: {
        attemptId: "o1",
        workerId: "w1",
        startTimeSec: NOW - 5,
        usage: [{ node: "host1", level: "host", resources: { host_slots: 1 } }],
        nextBackoff: { noMoreBackoffs: false, seconds: 15 },
      },
    };
    const result = plan(makeSnapshot(config(resources), replicaTree(), { tasks: [busyHost1] }));
    expect(result.starts.map((s) => s.pathToNode)).toEqual([["instance", "host2", "db"]]);
  });

  it("is an orphan only when no copy is enabled", () => {
    const settings = { killOrphanTasksAfterSec: 0 };
    const oneDisabled = buildNodeTree(["host", "db"], "instance", [
      { name: "host1", level: "host", parent: "instance" },
      { name: "host2", level: "host", parent: "instance" },
      { name: "db", level: "db", parent: "host1", enabled: false },
      { name: "db", level: "db", parent: "host2" },
    ]);
    const task = runningOnDb();
    expect(plan(makeSnapshot(config(undefined, settings), oneDisabled, { tasks: [task] })).kills).toEqual([]);
    const allDisabled = makeTree(["host", "db"], { host1: ["db"], host2: ["db"] }, { disabled: ["db"] });
    expect(plan(makeSnapshot(config(undefined, settings), allDisabled, { tasks: [task] })).kills).toEqual([
      expect.objectContaining({ job: "job", node: "db", reason: "Orphan: node db is disabled" }),
    ]);
  });
});
