// The nodes refresh run by rounds, on DynamoDB Local: Bistro's period and retry, the stored
// tree reused between refreshes, an unchanged refresh writing nothing, a failed refresh keeping
// the last good set (and showing in `errors`), pushed nodes with tags feeding tag filters,
// running tasks on vanished nodes killed as orphans after kill_orphan_tasks_after_sec; and
// `script` entries where no script runs (AWS) serving the set pushed for them.
import { RDSClient } from "@aws-sdk/client-rds";
import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import { makeApi, type ApiResponse } from "../../lib/api";
import type { NodeSpec } from "../../lib/model/tree";
import { deploymentNodeSources } from "../../lib/nodes/deployment-sources";
import { writePushedNodes } from "../../lib/nodes/pushed";
import type { NodeSource } from "../../lib/nodes/source";
import { TREE_SET } from "../../lib/round/node-refresh";
import { nodeSetPk } from "../../lib/store/keys";
import { roundHarness } from "../helpers/round";

type Harness = Awaited<ReturnType<typeof roundHarness>>;
let h: Harness;

/** A source whose output the test sets, and which fails on demand. */
function controlledSource() {
  const control = { nodes: [] as NodeSpec[], fail: null as string | null, calls: 0 };
  const source: NodeSource = {
    name: "controlled",
    fetch: () => {
      control.calls++;
      if (control.fail) throw new Error(control.fail);
      return control.nodes;
    },
  };
  return { control, source };
}

const config = (nodeSources: unknown[], job: Record<string, unknown> = {}) => ({
  bistro_settings: {
    resources: {},
    nodes: { levels: ["host", "db"], node_sources: nodeSources },
    enabled: true,
    kill_orphan_tasks_after_sec: 60,
  },
  "bistro_job->j": { owner: "test", enabled: true, ...job },
});

const db = (name: string, host = "h1", extra: Partial<NodeSpec> = {}): NodeSpec => ({
  name,
  level: "db",
  parent: host,
  ...extra,
});

async function treeItems() {
  const result = await h.store.doc.send(
    new QueryCommand({
      TableName: h.store.tableName,
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": nodeSetPk(TREE_SET) },
    }),
  );
  return result.Items ?? [];
}

function api() {
  return makeApi({
    store: h.store,
    sqs: h.store.aws.sqs,
    clock: h.now,
    instanceName: "scheduler",
    poke: () => Promise.resolve(),
    workerQueuePrefix: "unused",
    statusQueueUrl: "unused",
    ...(h.deps.nodeSources ? { nodeSources: h.deps.nodeSources } : {}),
  });
}

async function bistro(handler: string): Promise<unknown> {
  const response = await api().handle({
    method: "POST",
    path: "/",
    query: null,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ q: { handler } }),
  });
  return (response.body as { q: { data?: unknown } }).q.data;
}

beforeEach(async () => {
  h = await roundHarness();
});
afterEach(() => {
  h.destroy();
});

test("sources refresh every nodes_update_ms; between refreshes and when unchanged nothing is written", async () => {
  const { control, source } = controlledSource();
  h.deps.nodeSources = deploymentNodeSources({ store: h.store, extra: [source] });
  h.deps.nodeTimings = { updateMs: 300_000, retryMs: 30_000 };
  control.nodes = [{ name: "h1", level: "host", parent: "scheduler" }, db("d1")];
  await h.setConfig(config([{ source: "controlled", prefs: {} }]));
  await h.addWorker("w1");

  const first = await h.round();
  expect(first.nodes).toMatchObject({ changed: true, count: 2, error: null });
  expect(first.started.map((s) => s.node)).toEqual(["d1"]);
  expect(control.calls).toBe(1);
  const stored = await treeItems();
  expect(stored.map((item) => String(item.sk))).toEqual(["HEAD", "PART#0000000001#000000"]);

  // Not due: no refresh, and the next round is asked for no later than the refresh.
  h.advance(100_000);
  const quiet = await h.round();
  expect(quiet.nodes).toBeUndefined();
  expect(control.calls).toBe(1);
  expect(quiet.nextRoundInSec).toBeLessThanOrEqual(200);

  // Due, same nodes: the sources run, nothing is written.
  h.advance(200_000);
  const same = await h.round();
  expect(same.nodes).toEqual({ changed: false, bytesWritten: 0, count: 2, error: null });
  expect(await treeItems()).toEqual(stored);
  expect(await bistro("refresh_time")).toBe(Math.floor(h.now() / 1000));

  // A new node starts within the refresh that sees it.
  control.nodes = [...control.nodes, db("d2")];
  h.advance(300_000);
  await h.heartbeat();
  const grown = await h.round();
  expect(grown.nodes).toMatchObject({ changed: true, count: 3 });
  expect(grown.started.map((s) => s.node)).toEqual(["d2"]);
  expect((await treeItems()).map((item) => String(item.sk))).toEqual(["HEAD", "PART#0000000002#000000"]);
});

test("a failed refresh keeps the last good set, shows in errors, and is retried after nodes_retry_ms", async () => {
  const { control, source } = controlledSource();
  h.deps.nodeSources = deploymentNodeSources({ store: h.store, extra: [source] });
  h.deps.nodeTimings = { updateMs: 300_000, retryMs: 30_000 };
  control.nodes = [{ name: "h1", level: "host", parent: "scheduler" }, db("d1"), db("d2")];
  await h.setConfig(config([{ source: "controlled", prefs: {} }], { kill_orphan_tasks_after_sec: 0 }));
  await h.addWorker("w1");
  expect((await h.round()).started).toHaveLength(2);

  control.fail = "inventory service down";
  h.advance(300_000);
  const failed = await h.round();
  expect(failed.nodes?.error).toContain("inventory service down");
  expect(failed.reasons.map((r) => r.message)).toContainEqual(
    expect.stringContaining("Nodes could not be refreshed (the last good node set is used)"),
  );
  expect(failed.killed).toBe(0); // the last good set still has both nodes: no orphans
  expect(await bistro("errors")).toMatchObject({ Nodes: expect.stringContaining("inventory service down") as unknown });
  const refreshedAt = await bistro("refresh_time");
  expect(refreshedAt).toBe(Math.floor((h.now() - 300_000) / 1000));

  h.advance(20_000);
  await h.round();
  expect(control.calls).toBe(2); // retry not due yet
  control.fail = null;
  control.nodes = control.nodes.slice(0, 2);
  h.advance(10_000);
  const healed = await h.round();
  expect(control.calls).toBe(3);
  expect(healed.nodes).toMatchObject({ changed: true, error: null });
  expect(healed.killed).toBe(1); // d2 vanished: its task is an orphan, killed at once (delay 0)
  expect(await h.orders("w1")).toContainEqual(expect.objectContaining({ type: "kill", node: "d2" }));
  expect(await bistro("errors")).not.toHaveProperty("Nodes");
});

test("pushed nodes feed rounds with their tags; a push refreshes at once; vanished nodes' tasks are killed after the orphan delay", async () => {
  await h.setConfig(
    config(
      [
        { source: "manual", prefs: { h1: [] } },
        { source: "pushed", prefs: { name: "inventory" } },
      ],
      { filters: { db: { tag_whitelist: ["eu"] } } },
    ),
  );
  await h.addWorker("w1");
  const empty = await h.round();
  expect(empty.nodes).toMatchObject({ count: 1, error: null });

  await writePushedNodes(
    h.store,
    "inventory",
    [db("eu1", "h1", { tags: ["eu"] }), db("us1", "h1", { tags: ["us"] }), db("eu2", "h1", { tags: ["eu", "gold"] })],
    h.now(),
  );
  h.advance(1_000);
  const pushed = await h.round(); // well within the period: the push itself triggers the refresh
  expect(pushed.nodes).toMatchObject({ changed: true, count: 4 });
  expect(pushed.started.map((s) => s.node).sort()).toEqual(["eu1", "eu2"]);
  await h.orders("w1");

  // eu2 vanishes: an orphan, killed once it has been one for 60 s.
  await writePushedNodes(h.store, "inventory", [db("eu1", "h1", { tags: ["eu"] })], h.now());
  h.advance(1_000);
  const vanished = await h.round();
  expect(vanished.killed).toBe(0);
  h.advance(30_000);
  expect((await h.round()).killed).toBe(0);
  h.advance(31_000);
  const killed = await h.round();
  expect(killed.killed).toBe(1);
  expect(await h.orders("w1")).toEqual([
    expect.objectContaining({ type: "kill", node: "eu2", reason: "Orphan: node eu2 was deleted" }),
  ]);
});

test("changing the node settings refreshes at once, and the API serves the stored tree", async () => {
  await h.setConfig(
    config([{ source: "range_label", prefs: { parent_level: "instance", start: 1, end: 2, format: "h{i}" } }]),
  );
  await h.round();
  await h.setConfig(
    config([
      { source: "range_label", prefs: { parent_level: "instance", start: 1, end: 3, format: "h{i}" } },
      { source: "range_label", prefs: { parent_level: "host", start: 1, end: 1 } },
    ]),
  );
  h.advance(1_000);
  const changed = await h.round();
  expect(changed.nodes).toMatchObject({ changed: true, count: 6 });
  expect(await bistro("sorted_node_names")).toEqual({
    instance: ["scheduler"],
    host: ["h1", "h2", "h3"],
    db: ["h1__1", "h2__1", "h3__1"],
  });
});

const call = (method: string, path: string, body?: unknown): Promise<ApiResponse> =>
  api().handle({
    method,
    path,
    query: null,
    headers: { "content-type": "application/json" },
    body: body === undefined ? null : JSON.stringify(body),
  });

const scriptConfig = (scriptPrefs: Record<string, unknown>) => ({
  bistro_settings: {
    resources: {},
    nodes: {
      levels: ["host", "db"],
      node_sources: [
        { source: "manual", prefs: { h1: [], h2: [] } },
        { source: "script", prefs: { parent_level: "host", ...scriptPrefs } },
      ],
    },
    enabled: true,
  },
  "bistro_job->j": { owner: "test", enabled: true },
});

// A `script` entry on AWS: the round built as functions/scheduler-round.ts builds it (the
// deployment's sources with S3 and RDS clients, no script runner) serves what
// `sous nodes push --from-script` pushed for the entry instead of failing.
describe("script sources where no script runs (AWS)", () => {
  beforeEach(() => {
    h.deps.nodeSources = deploymentNodeSources({
      store: h.store,
      s3: () => h.store.aws.s3,
      rds: () => new RDSClient({ region: "us-east-1" }),
    });
  });

  test("a script entry reads the set pushed under the script's file name; a push refreshes the next round", async () => {
    const saved = await call("PUT", "/config", scriptConfig({ script: "/opt/sous/list-dbs.sh" }));
    expect(saved.statusCode).toBe(200);
    await h.addWorker("w1");

    // Nothing pushed yet: no children, no failed refresh, and errors says why.
    const empty = await h.round();
    expect(empty.nodes).toMatchObject({ changed: true, count: 2, error: null });
    expect(empty.started).toEqual([]);
    expect(await bistro("errors")).toMatchObject({
      "Node sources": expect.stringContaining("nothing was pushed yet") as unknown,
    });

    // What `sous nodes push --from-script /opt/sous/list-dbs.sh --parent-level host` sends.
    const push = await call("PUT", "/nodes/list-dbs.sh", {
      nodes: [
        { name: "h1:a", level: "db", parent: "h1" },
        { name: "h2:b", level: "db", parent: "h2" },
        { name: "gone:c", level: "db", parent: "gone" }, // a parent no longer in the tree: dropped
      ],
    });
    expect(push.statusCode).toBe(200);
    const fed = await h.round(); // within the period: the push itself makes the refresh due
    expect(fed.nodes).toMatchObject({ changed: true, count: 4, error: null });
    expect(fed.started.map((s) => s.node).sort()).toEqual(["h1:a", "h2:b"]);
    expect(await bistro("errors")).not.toHaveProperty("Node sources");
  });

  test("a script entry's `name` pref names the pushed set; a bad name is refused when the config is saved", async () => {
    expect(
      (await call("PUT", "/config", scriptConfig({ script: "/opt/sous/list-dbs.sh", name: "dbs" }))).statusCode,
    ).toBe(200);
    await call("PUT", "/nodes/dbs", { nodes: [{ name: "h1:x", level: "db", parent: "h1" }] });
    await call("PUT", "/nodes/list-dbs.sh", { nodes: [{ name: "h1:y", level: "db", parent: "h1" }] });
    await h.addWorker("w1");
    expect((await h.round()).started.map((s) => s.node)).toEqual(["h1:x"]);

    const bad = await call("PUT", "/config", scriptConfig({ script: "/opt/sous/list-dbs.sh", name: "" }));
    expect(bad.statusCode).toBe(400);
    expect(JSON.stringify(bad.body)).toContain("bistro_settings.nodes.node_sources.1.prefs");
  });
});

test("the API keeps the stored tree only while its version stands: a refresh's new set is served at once", async () => {
  await h.setConfig(
    config([
      { source: "manual", prefs: { h1: [] } },
      { source: "pushed", prefs: { name: "inventory" } },
    ]),
  );
  await writePushedNodes(h.store, "inventory", [db("a1")], h.now());
  await h.round();
  expect(await bistro("sorted_node_names")).toMatchObject({ db: ["a1"] });
  expect(await bistro("sorted_node_names")).toMatchObject({ db: ["a1"] }); // the kept tree
  await writePushedNodes(h.store, "inventory", [db("a1"), db("a2")], h.now());
  h.advance(1_000);
  expect((await h.round()).nodes).toMatchObject({ changed: true });
  expect(await bistro("sorted_node_names")).toMatchObject({ db: ["a1", "a2"] });
});
