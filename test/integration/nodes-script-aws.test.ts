// A `script` node source on AWS, on DynamoDB Local: the round built as the Lambda builds it (the
// deployment's sources, no script runner) serves what `sous nodes push --from-script` pushed
// for the entry instead of failing, and the API accepts such a config.
import { RDSClient } from "@aws-sdk/client-rds";
import { makeApi, type ApiResponse } from "../../lib/api";
import { deploymentNodeSources } from "../../lib/nodes/deployment-sources";
import { roundHarness } from "../helpers/round";

type Harness = Awaited<ReturnType<typeof roundHarness>>;
let h: Harness;

beforeEach(async () => {
  h = await roundHarness();
  // As functions/scheduler-round.ts builds it: the state table, S3 and RDS clients, no script runner.
  h.deps.nodeSources = deploymentNodeSources({
    store: h.store,
    s3: h.store.aws.s3,
    rds: () => new RDSClient({ region: "us-east-1" }),
  });
});
afterEach(() => {
  h.destroy();
});

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

const call = (method: string, path: string, body?: unknown): Promise<ApiResponse> =>
  api().handle({
    method,
    path,
    query: null,
    headers: { "content-type": "application/json" },
    body: body === undefined ? null : JSON.stringify(body),
  });

const config = (scriptPrefs: Record<string, unknown>) => ({
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

async function errors(): Promise<unknown> {
  const answer = await call("POST", "/", { q: { handler: "errors" } });
  return (answer.body as { q: { data?: unknown } }).q.data;
}

test("a script entry reads the set pushed under the script's file name; a push refreshes the next round", async () => {
  const saved = await call("PUT", "/config", config({ script: "/opt/sous/list-dbs.sh" }));
  expect(saved.statusCode).toBe(200);
  await h.addWorker("w1");

  // Nothing pushed yet: no children, no failed refresh, and errors says why.
  const empty = await h.round();
  expect(empty.nodes).toMatchObject({ changed: true, count: 2, error: null });
  expect(empty.started).toEqual([]);
  expect(await errors()).toMatchObject({
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
  expect(await errors()).not.toHaveProperty("Node sources");
});

test("a script entry's `name` pref names the pushed set; a bad name is refused when the config is saved", async () => {
  expect((await call("PUT", "/config", config({ script: "/opt/sous/list-dbs.sh", name: "dbs" }))).statusCode).toBe(200);
  await call("PUT", "/nodes/dbs", { nodes: [{ name: "h1:x", level: "db", parent: "h1" }] });
  await call("PUT", "/nodes/list-dbs.sh", { nodes: [{ name: "h1:y", level: "db", parent: "h1" }] });
  await h.addWorker("w1");
  expect((await h.round()).started.map((s) => s.node)).toEqual(["h1:x"]);

  const bad = await call("PUT", "/config", config({ script: "/opt/sous/list-dbs.sh", name: "" }));
  expect(bad.statusCode).toBe(400);
  expect(JSON.stringify(bad.body)).toContain("bistro_settings.nodes.node_sources.1.prefs");
});
