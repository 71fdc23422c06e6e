// Every route of the HTTP API on DynamoDB Local + fauxqs, through `makeApi(deps).handle`: config
// and jobs (validation, optimistic writes, pokes), nodes (paged, pushed), tasks (paged, kill,
// forgive), logs, the worker control plane, and Bistro's multi-query `POST /`.
import { readAttemptTokens } from "../../lib/store/dispatch-key";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CreateQueueCommand } from "@aws-sdk/client-sqs";
import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import { makeApi, readPushedNodes, s3LogReader, ValidationError, type Api, type ApiResponse } from "../../lib/api";
import type { ApiDeps, LogLinesQuery } from "../../lib/api/deps";
import { parseConfig, serializeJob } from "../../lib/config";
import type { KillMessage } from "../../lib/dispatch/messages";
import { StatusBits } from "../../lib/model/status";
import { serveApi } from "../../lib/local/api-server";
import { builtinNodeSources, type NodeSource } from "../../lib/nodes";
import { nodeSetPk } from "../../lib/store/keys";
import { replaceIdleTaskStatus } from "../../lib/store/replace-task-status";
import { getTasks, listTaskPage } from "../../lib/store/tasks";
import { uniqueName } from "../helpers/aws";
import { parseValid } from "../helpers/config";
import { bistroFixture, roundHarness } from "../helpers/round";

type Harness = Awaited<ReturnType<typeof roundHarness>>;

let h: Harness;
let api: Api;
let pokes: number;
let logged: Record<string, unknown>[];
let logQueries: LogLinesQuery[];
let statusQueueUrl: string;
const workerQueuePrefix = uniqueName("api");

function buildDeps(overrides: Partial<ApiDeps> = {}): ApiDeps {
  return {
    store: h.store,
    sqs: h.store.aws.sqs,
    clock: h.now,
    instanceName: "scheduler",
    poke: () => {
      pokes++;
      return Promise.resolve();
    },
    workerQueuePrefix,
    statusQueueUrl,
    readLogs: (query) => {
      logQueries.push(query);
      if (query.logType === "nope") return Promise.reject(new ValidationError(`Unknown table for logs: nope`));
      return Promise.resolve({
        nextLineId: "7440628831381098501",
        lines: [["j", "n", 1732406400, "hello", "7440628831381094405"]],
      });
    },
    log: (entry) => logged.push(entry),
    ...overrides,
  };
}

const buildApi = (overrides: Partial<ApiDeps> = {}): Api => makeApi(buildDeps(overrides));

beforeEach(async () => {
  h = await roundHarness();
  pokes = 0;
  logged = [];
  logQueries = [];
  const created = await h.store.aws.sqs.send(new CreateQueueCommand({ QueueName: uniqueName("status") }));
  statusQueueUrl = created.QueueUrl!;
  api = buildApi();
});
afterEach(() => {
  h.destroy();
});

interface CallOptions {
  body?: unknown;
  /** Raw body text (sent as is). */
  text?: string;
  query?: Record<string, string | string[]>;
  headers?: Record<string, string>;
}

async function call(method: string, path: string, options: CallOptions = {}): Promise<ApiResponse> {
  const json = options.body !== undefined;
  const response = await api.handle({
    method,
    path,
    query: options.query ?? null,
    headers: { ...(json ? { "Content-Type": "application/json" } : {}), ...options.headers },
    body: json ? JSON.stringify(options.body) : (options.text ?? null),
  });
  return response;
}

const simple = () => bistroFixture("simple.json");
const eventsFile = (name: string) => readFileSync(join(__dirname, "..", "..", "events", "bistro", name), "utf8");

/** simple.json stored, one worker, one round: 3 of the 4 tasks running (instance concurrency 3). */
async function runningDeployment() {
  await h.setConfig(simple());
  await h.addWorker("w1");
  const report = await h.round();
  expect(report.started).toHaveLength(3);
  await h.orders("w1"); // drain the start orders
  const started = report.started;
  const pending = ["node11", "node12", "node21", "node22"].find((n) => !started.some((s) => s.node === n))!;
  return { started, pending };
}

describe("GET/PUT /config", () => {
  it("is 404 until a config is stored; PUT validates, stores, pokes; GET returns the document and version", async () => {
    expect((await call("GET", "/config")).statusCode).toBe(404);
    const put = await call("PUT", "/config", { body: simple() });
    expect(put.statusCode).toBe(200);
    expect(put.body).toMatchObject({ version: 1, invalidJobs: {}, idleReasons: [] });
    expect(put.headers.etag).toBe('"1"');
    expect(pokes).toBe(1);
    const get = await call("GET", "/config");
    expect(get.statusCode).toBe(200);
    expect(get.body).toMatchObject({ version: 1, config: simple() });
    expect(get.headers.etag).toBe('"1"');
  });

  it("refuses an invalid config with every problem listed, and leaves the stored one untouched", async () => {
    await call("PUT", "/config", { body: simple() });
    const invalid = JSON.parse(eventsFile("invalid-wrong-types.json")) as unknown;
    const expected = parseConfig(invalid);
    if (expected.ok) throw new Error("fixture should be invalid");
    const put = await call("PUT", "/config", { body: invalid });
    expect(put.statusCode).toBe(400);
    expect(at(put.body, "error")).toMatchObject({ status: 400, code: "invalid_request" });
    expect(at(put.body, "error", "message")).toMatch(/nothing was stored/);
    expect(expected.errors.length).toBeGreaterThan(3);
    expect(at(put.body, "error", "issues")).toEqual(expected.errors);
    // Bad JSON text never reaches the parser.
    const badJson = await call("PUT", "/config", {
      text: eventsFile("invalid-bad-json.json"),
      headers: { "content-type": "application/json" },
    });
    expect(badJson.statusCode).toBe(400);
    expect(at(badJson.body, "error", "message")).toMatch(/^The body is not valid JSON: /);
    const get = await call("GET", "/config");
    expect(get.body).toMatchObject({ version: 1, config: simple() });
    expect(pokes).toBe(1);
  });

  it("honours If-Match / expectedVersion (409 when stale) and wants a JSON content type", async () => {
    await call("PUT", "/config", { body: simple() });
    await call("PUT", "/config", { body: simple() });
    const stale = await call("PUT", "/config", { body: simple(), headers: { "If-Match": '"1"' } });
    expect(stale.statusCode).toBe(409);
    expect(at(stale.body, "error", "code")).toBe("conflict");
    expect((await call("PUT", "/config", { body: simple(), query: { expectedVersion: "0" } })).statusCode).toBe(409);
    const fresh = await call("PUT", "/config", { body: simple(), headers: { "If-Match": '"2"' } });
    expect(at(fresh.body, "version")).toBe(3);
    const plainText = await api.handle({ method: "PUT", path: "/config", body: JSON.stringify(simple()) });
    expect(plainText.statusCode).toBe(415);
  });

  it("stores a config whose job is invalid (Bistro keeps it, never runs it) and names the job's problems", async () => {
    const document = { ...simple(), "bistro_job->broken": { enabled: true } };
    const put = await call("PUT", "/config", { body: document });
    expect(put.statusCode).toBe(200);
    expect(keysAt(put.body, "invalidJobs")).toEqual(["broken"]);
    expect(at(put.body, "invalidJobs", "broken", 0, "path")).toBe("bistro_job->broken.owner");
  });
});

describe("jobs", () => {
  beforeEach(async () => {
    await call("PUT", "/config", { body: simple() });
    pokes = 0;
  });

  it("GET /jobs and GET /jobs/{name} show Bistro's job JSON; an unknown job is 404", async () => {
    const expected = serializeJob(parseValid(simple()).jobs.simple_job!);
    const all = await call("GET", "/jobs");
    expect(all.body).toEqual({ version: 1, jobs: { simple_job: expected } });
    const one = await call("GET", "/jobs/simple_job");
    expect(one.body).toEqual({ name: "simple_job", version: 1, canRun: true, job: expected });
    const missing = await call("GET", "/jobs/nope");
    expect(missing.statusCode).toBe(404);
    expect(at(missing.body, "error", "message")).toBe("Unknown job nope");
  });

  it("PUT /jobs/{name} validates the job, writes a new config version and pokes a round", async () => {
    const created = await call("PUT", "/jobs/nightly%20backup", { body: { owner: "dba", config: { to: "s3://b/" } } });
    expect(created.statusCode).toBe(201);
    expect(created.body).toMatchObject({ name: "nightly backup", version: 2, created: true });
    expect(pokes).toBe(1);
    const nowSec = Math.floor(h.now() / 1000);
    const stored = await call("GET", "/jobs/nightly%20backup");
    expect(at(stored.body, "job")).toMatchObject({
      owner: "dba",
      config: { to: "s3://b/" },
      create_time: nowSec,
      modify_time: nowSec,
    });
    h.advance(60_000);
    const changed = await call("PUT", "/jobs/nightly%20backup", { body: { owner: "dba", priority: 3 } });
    expect(changed.statusCode).toBe(200);
    expect(changed.body).toMatchObject({
      version: 3,
      created: false,
      job: { priority: 3, create_time: nowSec, modify_time: nowSec + 60 },
    });
    expect(pokes).toBe(2);
    expect(at((await call("GET", "/config")).body, "config", "bistro_job->nightly backup")).toMatchObject({
      priority: 3,
    });
  });

  it("refuses an invalid job with every problem listed; nothing is stored and no round is poked", async () => {
    const put = await call("PUT", "/jobs/bad", { body: { owner: 5, priority: "high", resources: { nope: 1 } } });
    expect(put.statusCode).toBe(400);
    expect(pluck(put.body, "path", "error", "issues")).toEqual(
      expect.arrayContaining(["bistro_job->bad.owner", "bistro_job->bad.priority", "bistro_job->bad.resources.nope"]),
    );
    expect(at(put.body, "error", "issues")).toHaveLength(3);
    expect(at((await call("GET", "/config")).body, "version")).toBe(1);
    expect(pokes).toBe(0);
    expect((await call("PUT", "/jobs/bad", { body: ["not", "an", "object"] })).statusCode).toBe(400);
  });

  it("two concurrent single-job writes both land: the one that loses the race retries on the new version", async () => {
    const [a, b] = await Promise.all([
      call("PUT", "/jobs/a", { body: { owner: "x" } }),
      call("PUT", "/jobs/b", { body: { owner: "y" } }),
    ]);
    expect([a.statusCode, b.statusCode]).toEqual([201, 201]);
    const jobs = await call("GET", "/jobs");
    expect(keysAt(jobs.body, "jobs").sort()).toEqual(["a", "b", "simple_job"]);
    expect(at(jobs.body, "version")).toBe(3);
    // With an explicit version there is no retry: the caller decides.
    expect((await call("PUT", "/jobs/c", { body: { owner: "z" }, headers: { "if-match": "1" } })).statusCode).toBe(409);
  });

  it("DELETE /jobs/{name} removes the job (a new version, a poke); deleting it again is 404", async () => {
    const deleted = await call("DELETE", "/jobs/simple_job");
    expect(deleted.body).toEqual({ deleted: "simple_job", version: 2, invalidJobs: {} });
    expect(pokes).toBe(1);
    expect((await call("GET", "/jobs/simple_job")).statusCode).toBe(404);
    expect((await call("DELETE", "/jobs/simple_job")).statusCode).toBe(404);
  });
});

describe("GET /jobs/{name}/shards", () => {
  it("counts each node's task codes by level and parent, pages, and names bad parameters", async () => {
    const { pending } = await runningDeployment();
    const running = histogramCodeOf(StatusBits.RUNNING);
    const unstarted = histogramCodeOf(StatusBits.UNSTARTED);
    const top = await call("GET", "/jobs/simple_job/shards");
    expect(top.statusCode).toBe(200);
    expect(at(top.body, "level")).toBe("level1");
    expect(at(top.body, "levelForTasks")).toBe("level2");
    const groups = at(top.body, "nodes") as { name: string; counts: Record<string, number> }[];
    expect(groups.map((g) => g.name)).toEqual(["node1", "node2"]);
    const total = (code: string) => groups.reduce((sum, g) => sum + (g.counts[code] ?? 0), 0);
    expect([total(running), total(unstarted)]).toEqual([3, 1]);

    const parentOfPending = pending.startsWith("node1") ? "node1" : "node2";
    const children = await call("GET", "/jobs/simple_job/shards", { query: { parent: parentOfPending, limit: "1" } });
    expect(at(children.body, "level")).toBe("level2");
    expect(at(children.body, "total")).toBe(2);
    expect(at(children.body, "nodes")).toHaveLength(1);
    const rest = await call("GET", "/jobs/simple_job/shards", {
      query: { parent: parentOfPending, limit: "1", cursor: String(at(children.body, "nextCursor")) },
    });
    expect(at(rest.body, "nextCursor")).toBeNull();
    const leaves = [...(at(children.body, "nodes") as []), ...(at(rest.body, "nodes") as [])] as {
      name: string;
      counts: Record<string, number>;
    }[];
    expect(leaves.find((l) => l.name === pending)?.counts).toEqual({ [unstarted]: 1 });

    expect((await call("GET", "/jobs/nope/shards")).statusCode).toBe(404);
    expect((await call("GET", "/jobs/simple_job/shards", { query: { parent: "ghost" } })).statusCode).toBe(400);
    const badLevel = await call("GET", "/jobs/simple_job/shards", { query: { parent: "node11", level: "level1" } });
    expect(badLevel.statusCode).toBe(400);
    expect(JSON.stringify(badLevel.body)).toContain("level");
    expect((await call("GET", "/jobs/simple_job/shards", { query: { limit: "10001" } })).statusCode).toBe(400);
  });
});

describe("nodes", () => {
  it("GET /nodes pages through the tree in source order, optionally one level; unknown levels are 400", async () => {
    expect((await call("GET", "/nodes")).statusCode).toBe(404); // no config yet
    await call("PUT", "/config", { body: simple() });
    const names: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: ApiResponse = await call("GET", "/nodes", {
        query: { limit: "3", ...(cursor ? { cursor } : {}) },
      });
      expect(page.statusCode).toBe(200);
      expect(items(page.body, "nodes").length).toBeLessThanOrEqual(3);
      names.push(...pluck(page.body, "name", "nodes").map(String));
      cursor = at(page.body, "nextCursor") as string | null;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(names).toEqual(["scheduler", "node1", "node11", "node12", "node2", "node21", "node22"]);
    const level2 = await call("GET", "/nodes", { query: { level: "level2" } });
    expect(at(level2.body, "nodes")).toEqual(
      ["node11", "node12", "node21", "node22"].map((name) => ({
        name,
        level: "level2",
        parent: name.slice(0, 5),
        enabled: true,
        tags: [],
      })),
    );
    expect(at(level2.body, "levels")).toEqual(["instance", "level1", "level2"]);
    expect((await call("GET", "/nodes", { query: { level: "nope" } })).statusCode).toBe(400);
    expect((await call("GET", "/nodes", { query: { cursor: "garbage" } })).statusCode).toBe(400);
  });

  it("PUT /nodes/{source} stores the source's nodes, replaces them on the next push, and pokes", async () => {
    await call("PUT", "/config", { body: simple() });
    pokes = 0;
    const first = await call("PUT", "/nodes/inventory", {
      body: {
        nodes: [
          { name: "rack1", level: "level1", parent: "scheduler", tags: ["eu"] },
          { name: "rack1-a", level: "level2", parent: "rack1", enabled: false },
        ],
      },
    });
    expect(first.statusCode).toBe(200);
    expect(first.body).toMatchObject({ source: "inventory", count: 2, version: 1, changed: true });
    expect(first.headers.etag).toBe('"1"');
    expect(pokes).toBe(1);
    expect((await readPushedNodes(h.store, "inventory"))?.nodes).toEqual([
      { name: "rack1", level: "level1", parent: "scheduler", enabled: true, tags: ["eu"] },
      { name: "rack1-a", level: "level2", parent: "rack1", enabled: false },
    ]);
    const read = await call("GET", "/nodes/inventory");
    expect(read.statusCode).toBe(200);
    expect(read.headers.etag).toBe('"1"');
    expect(read.body).toMatchObject({ source: "inventory", version: 1, count: 2 });
    expect((await call("GET", "/nodes/elsewhere")).statusCode).toBe(404);
    const many = Array.from({ length: 5000 }, (_, i) => ({
      name: `n${i}-${"x".repeat(80)}`,
      level: "level1",
      parent: "scheduler",
    }));
    const second = await call("PUT", "/nodes/inventory", { body: { nodes: many }, headers: { "if-match": '"1"' } });
    expect(second.body).toMatchObject({ count: 5000, version: 2, changed: true });
    const stored = await readPushedNodes(h.store, "inventory");
    expect(stored?.nodes).toEqual(many.map((node) => ({ ...node, enabled: true })));
    // The first generation's parts are gone: the source holds the head and the new parts only.
    const items = await h.store.doc.send(
      new QueryCommand({
        TableName: h.store.tableName,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": nodeSetPk("pushed:inventory") },
      }),
    );
    const parts = (items.Items ?? []).filter((item) => item.sk !== "HEAD");
    expect(parts.length).toBe(1); // 5000 nodes of ~130 bytes compress into one part
    expect(parts.every((item) => String(item.sk).startsWith("PART#0000000002#"))).toBe(true);
    expect(await readPushedNodes(h.store, "elsewhere")).toBeNull();
  });

  it("PUT /nodes/{source} is versioned: a stale If-Match is refused, and a push equal to the stored set writes nothing", async () => {
    await call("PUT", "/config", { body: simple() });
    const nodes = [{ name: "rack1", level: "level1", parent: "scheduler", tags: ["eu"] }];
    const first = await call("PUT", "/nodes/inventory", { body: { nodes }, headers: { "if-match": '"0"' } });
    expect(first.body).toMatchObject({ version: 1, changed: true });
    pokes = 0;
    const before = await h.store.doc.send(
      new QueryCommand({
        TableName: h.store.tableName,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": nodeSetPk("pushed:inventory") },
      }),
    );
    // The same nodes again, even with a stale If-Match (a retried push): nothing written, no poke.
    const again = await call("PUT", "/nodes/inventory", { body: { nodes }, headers: { "if-match": '"0"' } });
    expect(again.statusCode).toBe(200);
    expect(again.body).toMatchObject({ version: 1, changed: false });
    expect(pokes).toBe(0);
    const after = await h.store.doc.send(
      new QueryCommand({
        TableName: h.store.tableName,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": nodeSetPk("pushed:inventory") },
      }),
    );
    expect(after.Items).toEqual(before.Items);
    // Different nodes against a stale version: refused, the stored set kept.
    const stale = await call("PUT", "/nodes/inventory", {
      body: { nodes: [{ name: "rack2", level: "level1", parent: "scheduler" }] },
      headers: { "if-match": '"0"' },
    });
    expect(stale.statusCode).toBe(409);
    expect((await readPushedNodes(h.store, "inventory"))?.nodes.map((n) => n.name)).toEqual(["rack1"]);
    const bad = await call("PUT", "/nodes/inventory", { body: { nodes }, headers: { "if-match": "v1" } });
    expect(bad.statusCode).toBe(400);
    const long = await call("PUT", `/nodes/${"s".repeat(201)}`, { body: { nodes } });
    expect(long.statusCode).toBe(400);
  });

  it("PUT /nodes/{source} takes replicas (one name under several parents of a level), as config sources do", async () => {
    const config = simple() as { bistro_settings: { nodes: Record<string, unknown> } };
    config.bistro_settings.nodes.node_sources = [{ source: "pushed", prefs: { name: "inventory" } }];
    await call("PUT", "/config", { body: config });
    const nodes = [
      { name: "host1", level: "level1", parent: "scheduler" },
      { name: "host2", level: "level1", parent: "scheduler" },
      { name: "db", level: "level2", parent: "host1", tags: ["eu"] },
      { name: "db", level: "level2", parent: "host2", tags: ["eu"] },
    ];
    const push = await call("PUT", "/nodes/inventory", { body: { nodes } });
    expect(push.statusCode).toBe(200);
    expect(push.body).toMatchObject({ count: 4, version: 1, changed: true });
    // The tree holds both copies, each under its own parent.
    const level2 = await call("GET", "/nodes", { query: { level: "level2" } });
    expect(at(level2.body, "nodes")).toEqual([
      { name: "db", level: "level2", parent: "host1", enabled: true, tags: ["eu"] },
      { name: "db", level: "level2", parent: "host2", enabled: true, tags: ["eu"] },
    ]);
    // A name on two levels, or twice under one parent, is still refused.
    const bad = await call("PUT", "/nodes/inventory", {
      body: {
        nodes: [
          ...nodes,
          { name: "db", level: "level2", parent: "host2" },
          { name: "host1", level: "level2", parent: "host2" },
        ],
      },
    });
    expect(bad.statusCode).toBe(400);
    expect(items(bad.body, "error", "issues").map((i) => String(at(i, "message")))).toEqual([
      "node db is listed twice under host2",
      "node host1 is listed at levels level1 and level2; a name may repeat (a replica) only within one level",
    ]);
    expect((await readPushedNodes(h.store, "inventory"))?.version).toBe(1);
  });

  it("refuses a bad push with every problem listed and keeps what was stored", async () => {
    await call("PUT", "/config", { body: simple() });
    await call("PUT", "/nodes/inventory", {
      body: { nodes: [{ name: "keep", level: "level1", parent: "scheduler" }] },
    });
    const bad = await call("PUT", "/nodes/inventory", {
      body: {
        nodes: [
          { name: "child", level: "level2", parent: "late" },
          { name: "late", level: "level1", parent: "scheduler" },
          { name: "late", level: "level1", parent: "scheduler" },
          { name: "odd", level: "level9", parent: "scheduler" },
        ],
      },
    });
    expect(bad.statusCode).toBe(400);
    expect(
      items(bad.body, "error", "issues").map((i) => `${String(at(i, "path"))}: ${String(at(i, "message"))}`),
    ).toEqual([
      "nodes.2.name: node late is listed twice under scheduler",
      "nodes.3.level: unknown level level9; the configured levels are level1, level2",
      "nodes.0.parent: parent late is listed after its child; list parents first",
    ]);
    expect((await call("PUT", "/nodes/inventory", { body: { nodes: [{ name: 1 }] } })).statusCode).toBe(400);
    expect((await readPushedNodes(h.store, "inventory"))?.nodes.map((n) => n.name)).toEqual(["keep"]);
  });
});

describe("tasks", () => {
  it("GET /tasks lists task items with filters and pages", async () => {
    const { started, pending } = await runningDeployment();
    const all = await call("GET", "/tasks");
    expect(all.statusCode).toBe(200);
    expect(pluck(all.body, "node", "tasks")).toEqual(started.map((s) => s.node).sort());
    expect(at(all.body, "tasks", 0)).toMatchObject({
      job: "simple_job",
      state: "running",
      label: "running",
      running: { worker: "w1", startTimeSec: Math.floor(h.now() / 1000) },
    });
    expect(at(all.body, "nextCursor")).toBeNull();

    const first = await call("GET", "/tasks", { query: { job: "simple_job", limit: "2" } });
    expect(at(first.body, "tasks")).toHaveLength(2);
    const second = await call("GET", "/tasks", {
      query: { job: "simple_job", limit: "2", cursor: String(at(first.body, "nextCursor")) },
    });
    expect(at(second.body, "tasks")).toHaveLength(1);
    expect(at(second.body, "nextCursor")).toBeNull();
    expect([...pluck(first.body, "node", "tasks"), ...pluck(second.body, "node", "tasks")]).toEqual(
      pluck(all.body, "node", "tasks"),
    );

    const done = started[0]!;
    await h.finish([{ job: done.job, node: done.node, attempt: done.attempt, rawStatus: "done" }]);
    const running = await call("GET", "/tasks", { query: { state: "running" } });
    expect(pluck(running.body, "node", "tasks")).not.toContain(done.node);
    expect(at(running.body, "tasks")).toHaveLength(2);
    const byNode = await call("GET", "/tasks", { query: { node: done.node } });
    expect(at(byNode.body, "tasks")).toMatchObject([
      { node: done.node, state: "done", status: { result_bits: StatusBits.DONE } },
    ]);
    expect(at((await call("GET", "/tasks", { query: { node: pending } })).body, "tasks")).toEqual([]); // pending: no item
    expect((await call("GET", "/tasks", { query: { state: "sleeping" } })).statusCode).toBe(400);
    expect((await call("GET", "/tasks", { query: { limit: "0" } })).statusCode).toBe(400);
  });

  it("a listing that filters out most items ends pages early at its read budget, with a cursor", async () => {
    const { started } = await runningDeployment();
    const last = [...started].sort((a, b) => (a.node < b.node ? -1 : 1)).at(-1)!;
    await h.finish([{ job: last.job, node: last.node, attempt: last.attempt, rawStatus: "done" }]);
    const seen: string[] = [];
    let after: { job: string; node: string } | undefined;
    let pages = 0;
    do {
      const page = await listTaskPage(h.store, {
        jobs: ["simple_job"],
        state: "done",
        limit: 10,
        scanBudget: 1,
        ...(after ? { after } : {}),
      });
      seen.push(...page.tasks.map((t) => t.node));
      after = page.next;
      pages++;
    } while (after && pages < 10);
    expect(seen).toEqual([last.node]);
    // One item read per page (the done one last), then an empty page: a read that stops at its
    // limit cannot tell whether the partition has more.
    expect(pages).toBe(4);
  });

  it("POST /tasks/{job}/{node}/kill sends a kill order with the job's kill_subprocess to the worker's queue", async () => {
    const { started, pending } = await runningDeployment();
    await call("PUT", "/jobs/simple_job", {
      body: { owner: "test", kill_subprocess: { method: "term_wait_kill", kill_wait_ms: 5000 } },
    });
    const target = started[1]!;
    const kill = await call("POST", `/tasks/simple_job/${target.node}/kill`);
    expect(kill.statusCode).toBe(202);
    expect(kill.body).toMatchObject({ attempt: target.attempt, worker: "w1" });
    const orders = (await h.orders("w1")) as KillMessage[];
    expect(orders).toEqual([
      {
        type: "kill",
        job: "simple_job",
        node: target.node,
        attempt: target.attempt,
        // The attempt's own token, as its start order carried it: the worker's notRunning end needs it.
        token: (await readAttemptTokens(h.store))(target),
        request: { method: "term_wait_kill", killWaitMs: 5000 },
        reason: "killed through the API",
      },
    ]);
    expect((await call("POST", `/tasks/simple_job/${pending}/kill`)).statusCode).toBe(404);
    expect(at((await call("POST", "/tasks/nope/node11/kill")).body, "error", "message")).toBe("Unknown job nope");
    const done = started[0]!;
    await h.finish([{ job: done.job, node: done.node, attempt: done.attempt, rawStatus: "done" }]);
    const notRunning = await call("POST", `/tasks/simple_job/${done.node}/kill`);
    expect(notRunning.statusCode).toBe(409);
    expect(await h.orders("w1")).toEqual([]);
  });

  it("POST /tasks/{job}/{node}/forgive turns failed into error and clears backoff, once", async () => {
    const { started } = await runningDeployment();
    const [failed, backingOff] = started;
    await h.finish([
      { job: "simple_job", node: failed!.node, attempt: failed!.attempt, rawStatus: "failed" },
      { job: "simple_job", node: backingOff!.node, attempt: backingOff!.attempt, rawStatus: "error_backoff" },
    ]);
    pokes = 0;
    const before = await call("GET", "/tasks", { query: { node: backingOff!.node } });
    expect(at(before.body, "tasks", 0)).toMatchObject({ state: "backoff", label: "error_backoff" });
    expect(at(before.body, "tasks", 0, "backoffUntilSec")).toBeGreaterThan(h.now() / 1000);

    const forgiven = await call("POST", `/tasks/simple_job/${failed!.node}/forgive`);
    expect(forgiven.statusCode).toBe(200);
    expect(forgiven.body).toMatchObject({
      forgiven: true,
      task: { state: "error", status: { result_bits: StatusBits.ERROR } },
    });
    expect(pokes).toBe(1);
    expect(at((await call("POST", `/tasks/simple_job/${failed!.node}/forgive`)).body, "forgiven")).toBe(false);

    const job = await call("POST", "/jobs/simple_job/forgive");
    expect(job.body).toEqual({ jobs: ["simple_job"], forgiven: 1 }); // the backoff; the rest run or were forgiven
    const after = await call("GET", "/tasks", { query: { node: backingOff!.node } });
    expect(at(after.body, "tasks", 0)).toMatchObject({ state: "backoff", label: "error_backoff" });
    expect(at(after.body, "tasks", 0, "backoffUntilSec")).toBeUndefined(); // may run now
    expect(pokes).toBe(2);
    expect((await call("POST", "/jobs/nope/forgive")).statusCode).toBe(404);
    expect((await call("POST", "/tasks/nope/x/forgive")).statusCode).toBe(404);
  });

  it("forgiving writes only on the item version it read", async () => {
    const { started } = await runningDeployment();
    const task = started[0]!;
    await h.finish([{ job: task.job, node: task.node, attempt: task.attempt, rawStatus: "failed" }]);
    const [item] = await getTasks(h.store, [task]);
    const stale = { ...item!, version: item!.version - 1 };
    const forgiven = { ...item!.status!, bits: StatusBits.ERROR };
    expect(await replaceIdleTaskStatus(h.store, stale, forgiven, "error")).toBe(false);
    expect(await replaceIdleTaskStatus(h.store, item!, forgiven, "error")).toBe(true);
    expect(await replaceIdleTaskStatus(h.store, item!, forgiven, "error")).toBe(false); // version moved on
  });
});

describe("GET /logs", () => {
  it("maps the query onto readLogs and its page onto JSON objects", async () => {
    const page = await call("GET", "/logs", {
      query: { job: ["a", "b"], node: "n1", type: "stderr", cursor: "123", sort: "asc", regex: "err", limit: "50" },
    });
    expect(page.statusCode).toBe(200);
    expect(logQueries).toEqual([
      { logType: "stderr", jobs: ["a", "b"], nodes: ["n1"], sort: "asc", lineId: "123", regexFilter: "err", limit: 50 },
    ]);
    expect(page.body).toEqual({
      lines: [{ job: "j", node: "n", time: 1732406400, line: "hello", lineId: "7440628831381094405" }],
      nextCursor: "7440628831381098501",
    });
    expect((await call("GET", "/logs", { query: { time: "soon" } })).statusCode).toBe(400);
    expect((await call("GET", "/logs", { query: { type: "nope" } })).statusCode).toBe(400);
  });

  it("is 501 without a log reader, and the S3 reader's refusals are 400s", async () => {
    const { readLogs: _readLogs, ...withoutLogs } = buildDeps();
    api = makeApi(withoutLogs);
    expect((await call("GET", "/logs")).statusCode).toBe(501);
    const reader = s3LogReader({
      s3: () => h.store.aws.s3,
      doc: h.store.doc,
      tableName: h.store.tableName,
      bucket: "none",
    });
    await expect(reader({ logType: "stdout", time: 1, lineId: "2" })).rejects.toThrow(ValidationError);
  });
});

describe("workers", () => {
  it("POST /workers registers through the control plane (queue, status queue, timings) and pokes", async () => {
    const registration = {
      id: "w9",
      hostname: "host9",
      instanceId: "w9-a",
      resources: { cpu: 4 },
      heartbeatPeriodSec: 15,
    };
    const registered = await call("POST", "/workers", { body: registration });
    expect(registered.statusCode).toBe(201);
    expect(registered.body).toMatchObject({
      statusQueueUrl,
      timings: { heartbeatPeriodSec: 15, loseUnhealthyAfterSec: 500 },
    });
    expect(at(registered.body, "queueUrl")).toContain(`${workerQueuePrefix}-w-w9`);
    expect(pokes).toBe(1);
    const secret = at(registered.body, "heartbeatSecret") as string;
    // A second live instance may not take the id, and is not told which instance holds it.
    const conflict = await call("POST", "/workers", { body: { ...registration, instanceId: "w9-b" } });
    expect(conflict.statusCode).toBe(409);
    expect(JSON.stringify(conflict.body)).not.toContain("w9-a");
    expect((await call("POST", "/workers/w9/heartbeat", { body: { instanceId: "w9-a", secret } })).body).toEqual({
      ok: true,
    });
    const replaced = await call("POST", "/workers/w9/heartbeat", { body: { instanceId: "w9-b", secret } });
    expect(replaced.body).toMatchObject({ ok: false });
    // Knowing the instance id is not enough: a heartbeat without the registration's secret is a 403.
    const forged = await call("POST", "/workers/w9/heartbeat", { body: { instanceId: "w9-a", secret: "guessed" } });
    expect(forged.statusCode).toBe(403);
    const list = await call("GET", "/workers");
    expect(at(list.body, "workers")).toMatchObject([
      { id: "w9", hostname: "host9", instanceId: "w9-a", state: "healthy" },
    ]);
    expect(JSON.stringify(list.body)).not.toContain("secretHash");
    h.advance(100_000); // past heartbeat period + grace
    expect(at((await call("GET", "/workers")).body, "workers", 0, "state")).toBe("unhealthy");
  });

  it("refuses a malformed registration with every problem listed", async () => {
    const bad = await call("POST", "/workers", { body: { id: "", resources: { cpu: -1 }, extra: true } });
    expect(bad.statusCode).toBe(400);
    expect(pluck(bad.body, "path", "error", "issues")).toEqual(
      expect.arrayContaining(["id", "hostname", "instanceId", "heartbeatPeriodSec", "resources.cpu"]),
    );
    expect((await call("POST", "/workers/w1/heartbeat", { body: {} })).statusCode).toBe(400);
  });

  it("refuses registrations past the documented limits with a 400 naming the limit, and creates nothing", async () => {
    const valid = { id: "w-limits", hostname: "h", instanceId: "i", resources: {}, heartbeatPeriodSec: 15 };
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ hostname: "h".repeat(254) }, "hostname", /at most 253 characters/],
      [{ instanceId: "i".repeat(129) }, "instanceId", /at most 128 characters/],
      [{ id: "w".repeat(201) }, "id", /at most 200 characters/],
      [
        { resources: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`r${i}`, 1])) },
        "resources",
        /at most 64 resources/,
      ],
      [{ resources: { ["r".repeat(65)]: 1 } }, "resources", /1 to 64 characters/],
      [{ resources: { cpu: 1e12 } }, "resources.cpu", /at most 1000000000/],
    ];
    for (const [change, path, message] of cases) {
      const answer = await call("POST", "/workers", { body: { ...valid, ...change } });
      expect(answer.statusCode).toBe(400);
      const issues = at(answer.body, "error", "issues") as { path: string; message: string }[];
      expect(issues.find((i) => i.path.startsWith(path))?.message).toMatch(message);
    }
    expect(JSON.stringify((await call("GET", "/workers")).body)).not.toContain("w-limits");
    const tooLong = await call("POST", "/workers/w1/heartbeat", { body: { instanceId: "i", secret: "s".repeat(129) } });
    expect(tooLong.statusCode).toBe(400);
  });
});

describe("POST / (Bistro's multi-query body)", () => {
  const bistro = (body: unknown) =>
    call("POST", "/", { text: JSON.stringify(body), headers: { "content-type": "application/x-www-form-urlencoded" } });

  it("answers jobs and running_tasks in Bistro's shapes", async () => {
    const { started } = await runningDeployment();
    const answer = await bistro({ a: { handler: "jobs" }, b: { handler: "running_tasks" }, prefs: { ignored: true } });
    expect(answer.statusCode).toBe(200);
    const startSec = Math.floor(h.now() / 1000);
    expect(answer.body).toEqual({
      a: { data: { simple_job: serializeJob(parseValid(simple()).jobs.simple_job!) } },
      b: {
        data: {
          simple_job: Object.fromEntries(started.map((s) => [s.node, { start_time: startSec, worker_shard: "w1" }])),
        },
      },
    });
    h.advance(30_000);
    const runtime = await bistro({ r: { handler: "job_node_runtime", jobs: ["simple_job"] } });
    expect(Object.values(at(runtime.body, "r", "data", "simple_job") as Record<string, number>)).toEqual([30, 30, 30]);
  });

  it("reports a failing subquery under its own name and answers the others", async () => {
    await runningDeployment();
    const answer = await bistro({
      good: { handler: "jobs", jobs: ["simple_job", "unknown"] },
      bad: { handler: "no_such_handler" },
      noHandler: { jobs: [] },
      kill: { handler: "kill_task", job_id: "simple_job", node_id: "nowhere" },
      logs: { handler: "task_logs", log_type: "stdout", columns: ["x"] },
    });
    expect(answer.statusCode).toBe(200);
    expect(keysAt(answer.body, "good", "data")).toEqual(["simple_job"]);
    expect(at(answer.body, "bad")).toEqual({ error: "Unknown handler: no_such_handler" });
    expect(at(answer.body, "noHandler", "error")).toMatch(/handler/);
    expect(at(answer.body, "kill", "error")).toMatch(/^Unknown running task simple_job, nowhere/);
    expect(at(answer.body, "logs")).toEqual({ error: "Custom columns are currently not supported." });
  });

  it("answers a body that is not JSON, or a deployment without config, with one JSON string", async () => {
    const noConfig = await bistro({ a: { handler: "jobs" } });
    expect(noConfig.statusCode).toBe(200);
    expect(typeof noConfig.body).toBe("string");
    await h.setConfig(simple());
    const notJson = await call("POST", "/", {
      text: "a=b&c=d",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(notJson.statusCode).toBe(200);
    expect(notJson.body).toEqual(expect.stringMatching(/^Invalid JSON body/));
  });

  it("answers histogram, nodes, sorted_node_names, errors, refresh_time and task_logs", async () => {
    const { started, pending } = await runningDeployment();
    const answer = await bistro({
      h: { handler: "histogram", num_samples: 2 },
      n: { handler: "nodes", nodes: ["scheduler", "node1"] },
      f: { handler: "nodes", fields: ["disabled"] },
      bad: { handler: "nodes", fields: ["color"] },
      all: { handler: "nodes", fields: {} },
      none: { handler: "nodes" },
      s: { handler: "sorted_node_names" },
      e: { handler: "errors" },
      t: { handler: "refresh_time" },
      l: { handler: "task_logs", log_type: "stderr", jobs: ["simple_job"], time: 1700000000, sort: "asc" },
    });
    const running = histogramCodeOf(StatusBits.RUNNING);
    const unstarted = histogramCodeOf(StatusBits.UNSTARTED);
    expect(at(answer.body, "h", "data", "histograms", "simple_job", "level2")).toEqual({
      [running]: 3,
      [unstarted]: 1,
    });
    expect(at(answer.body, "h", "data", "histograms", "simple_job", "instance")).toEqual({
      [histogramCodeOf(StatusBits.RUNNING | StatusBits.UNSTARTED)]: 1,
    });
    expect(at(answer.body, "h", "data", "samples", "simple_job", "level2", unstarted)).toEqual([pending]);
    expect(at(answer.body, "h", "data", "samples", "simple_job", "level2", running)).toHaveLength(2);
    expect(started).toHaveLength(3);
    expect(at(answer.body, "n", "data")).toEqual({
      results: {
        instance: { scheduler: { resources: { concurrency: { default: 1, limit: 3 } } } },
        level1: { node1: { resources: {} } },
      },
    });
    expect(at(answer.body, "f", "data", "results", "level2")).toEqual({
      node11: {},
      node12: {},
      node21: {},
      node22: {},
    });
    expect(at(answer.body, "bad")).toEqual({ error: "Unknown field name: color" });
    expect(at(answer.body, "all", "data")).toEqual(at(answer.body, "none", "data"));
    expect(at(answer.body, "all", "data", "results", "instance", "scheduler")).toEqual({
      resources: { concurrency: { default: 1, limit: 3 } },
    });
    expect(at(answer.body, "s", "data")).toEqual({
      instance: ["scheduler"],
      level1: ["node1", "node2"],
      level2: ["node11", "node12", "node21", "node22"],
    });
    expect(at(answer.body, "e", "data")).toEqual({});
    expect(at(answer.body, "t", "data")).toBe(Math.floor(h.now() / 1000));
    expect(at(answer.body, "l", "data")).toEqual({
      next_line_id: "7440628831381098501",
      lines: [["j", "n", 1732406400, "hello", "7440628831381094405"]],
    });
    expect(logQueries.at(-1)).toEqual({
      logType: "stderr",
      jobs: ["simple_job"],
      nodes: [],
      sort: "asc",
      time: 1700000000,
    });
  });

  it("shows what a node source worked around (a failing script keeping its last good nodes) in errors", async () => {
    await h.setConfig(simple());
    const problems = ["script /opt/hosts.sh (parent db1) exited with code 2; kept its 3 nodes from the run at 100"];
    const flaky: NodeSource = { name: "flaky", fetch: () => [], problems: () => problems };
    api = buildApi({ nodeSources: builtinNodeSources().register(flaky) });
    const answer = await bistro({ e: { handler: "errors" } });
    expect(at(answer.body, "e", "data")).toEqual({ "Node sources": `flaky: ${problems[0]}` });
  });

  it("changes state with save_job, delete_job, forgive_jobs and kill_task", async () => {
    const { started } = await runningDeployment();
    const failed = started[0]!;
    await h.finish([{ job: failed.job, node: failed.node, attempt: failed.attempt, rawStatus: "failed" }]);
    pokes = 0;
    const answer = await bistro({
      save: { handler: "save_job", job_id: "extra", job: { owner: "me" } },
      invalid: { handler: "save_job", job_id: "broken", job: { owner: 1 } },
      forgive: { handler: "forgive_jobs", jobs: ["simple_job"] },
      unknownForgive: { handler: "forgive_jobs", jobs: ["ghost"] },
      kill: { handler: "kill_task", job_id: "simple_job", node_id: started[1]!.node, status_filter: "ignored" },
    });
    expect(at(answer.body, "save")).toEqual({ data: "saved" });
    expect(at(answer.body, "invalid", "error")).toMatch(/^Job broken is invalid.*\nbistro_job->broken.owner: /s);
    expect(at(answer.body, "forgive")).toEqual({ data: "forgiven" });
    expect(at(answer.body, "unknownForgive")).toEqual({ error: "Invalid job id: ghost" });
    expect(at(answer.body, "kill")).toEqual({ data: "signaled" });
    expect(pokes).toBe(2); // the save and the forgiveness
    const [kill] = (await h.orders("w1")) as KillMessage[];
    expect(kill).toMatchObject({ type: "kill", node: started[1]!.node, attempt: started[1]!.attempt });
    const [forgiven] = await getTasks(h.store, [failed]);
    expect(forgiven?.status?.bits).toBe(StatusBits.ERROR);
    const deleted = await bistro({ d: { handler: "delete_job", job_id: "extra" }, j: { handler: "jobs" } });
    expect(at(deleted.body, "d")).toEqual({ data: "deleted" });
    // Subqueries share one config snapshot: `jobs` still sees the job deleted in the same request.
    expect(keysAt(deleted.body, "j", "data").sort()).toEqual(["extra", "simple_job"]);
    expect(keysAt((await bistro({ j: { handler: "jobs" } })).body, "j", "data")).toEqual(["simple_job"]);
  });
});

describe("routing, health and CORS", () => {
  it("answers GET /health, 404 for unknown paths, 405 for wrong methods, preflights, with CORS only for a configured origin", async () => {
    const health = await call("GET", "/health");
    expect(health.body).toEqual({ ok: true, configVersion: null, timeMs: h.now() });
    const unknown = await call("GET", "/nowhere");
    expect(unknown.statusCode).toBe(404);
    expect(at(unknown.body, "error", "code")).toBe("not_found");
    const wrong = await call("PATCH", "/jobs/x");
    expect(wrong.statusCode).toBe(405);
    expect(wrong.headers.allow).toBe("GET, PUT, DELETE");
    const preflight = await api.handle({ method: "OPTIONS", path: "/jobs/x" });
    expect(preflight.statusCode).toBe(204);
    for (const response of [health, unknown, wrong, preflight]) {
      expect(response.headers["access-control-allow-origin"]).toBeUndefined();
    }
    api = buildApi({ corsOrigin: "https://ui.example.com" });
    expect((await call("GET", "/health")).headers["access-control-allow-origin"]).toBe("https://ui.example.com");
  });

  it("logs an internal error and tells the caller only that one happened", async () => {
    api = buildApi({ store: { doc: h.store.doc, tableName: "no-such-table-here" } });
    const failed = await call("GET", "/jobs");
    expect(failed.statusCode).toBe(500);
    expect(JSON.stringify(failed.body)).not.toMatch(/no-such-table|ResourceNotFound/);
    expect(logged).toEqual([expect.objectContaining({ event: "api-internal-error" })]);
  });
});

/** The value at `keys` inside a JSON answer; undefined where a key is absent. */
function at(value: unknown, ...keys: (string | number)[]): unknown {
  let current = value;
  for (const key of keys) {
    current = typeof current === "object" && current !== null ? (current as Record<string, unknown>)[key] : undefined;
  }
  return current;
}

/** The array at `keys` (the test fails if it is not one). */
function items(value: unknown, ...keys: (string | number)[]): unknown[] {
  const found = at(value, ...keys);
  if (!Array.isArray(found)) throw new Error(`expected an array at ${keys.join(".")}, found ${JSON.stringify(found)}`);
  return found as unknown[];
}

/** `field` of every item of the array at `keys`. */
function pluck(value: unknown, field: string, ...keys: (string | number)[]): unknown[] {
  return items(value, ...keys).map((item) => at(item, field));
}

/** The keys of the object at `keys`. */
function keysAt(value: unknown, ...keys: (string | number)[]): string[] {
  const found = at(value, ...keys);
  return typeof found === "object" && found !== null ? Object.keys(found) : [];
}

function histogramCodeOf(bits: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  return alphabet.charAt(bits & 63) + (bits >> 6 ? alphabet.charAt(bits >> 6) : "");
}

describe("hostile input: limits answer 400 naming the limit, and a refused change keeps the running config", () => {
  const bistro = (queries: unknown) =>
    call("POST", "/", {
      text: JSON.stringify(queries),
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
  const message = (response: ApiResponse) => JSON.stringify(response.body);

  async function expectConfigKept(version: number) {
    const get = await call("GET", "/config");
    expect(get.body).toMatchObject({ version, config: simple() });
    const nodes = await call("GET", "/nodes");
    expect(nodes.statusCode).toBe(200);
  }

  it("an unknown node source (__proto__ or not implemented) is refused through PUT /config", async () => {
    expect((await call("PUT", "/config", { body: simple() })).statusCode).toBe(200);
    for (const source of ["__proto__", "nope"]) {
      const document = simple() as Record<string, { nodes: { node_sources: unknown[] } }>;
      document.bistro_settings!.nodes.node_sources.push({ source, prefs: {} });
      const put = await call("PUT", "/config", { body: document });
      expect(put.statusCode).toBe(400);
      expect(at(put.body, "error", "issues", 0, "path")).toBe("bistro_settings.nodes.node_sources.1.source");
      expect(at(put.body, "error", "issues", 0, "message")).toMatch(`unknown node source "${source}"`);
    }
    await expectConfigKept(1);
  });

  it("a range_label format of {i:x>200000000} is refused before any node is made", async () => {
    await call("PUT", "/config", { body: simple() });
    const document = simple() as Record<string, { nodes: { levels: string[]; node_sources: unknown[] } }>;
    document.bistro_settings!.nodes.node_sources = [
      { source: "range_label", prefs: { parent_level: "instance", start: 0, end: 3, format: "{i:x>200000000}" } },
    ];
    const put = await call("PUT", "/config", { body: document });
    expect(put.statusCode).toBe(400);
    expect(message(put)).toMatch(/MAX_RANGE_LABEL_WIDTH/);
    await expectConfigKept(1);
  });

  it("a job entry over 300 KB: 400 through PUT /jobs, an error through Bistro's save_job; nothing stored", async () => {
    await call("PUT", "/config", { body: simple() });
    const big = { owner: "o", config: { blob: "x".repeat(310_000) } };
    const put = await call("PUT", "/jobs/big", { body: big });
    expect(put.statusCode).toBe(400);
    expect(message(put)).toMatch(/MAX_CONFIG_ENTRY_BYTES/);
    const saved = await bistro({ a: { handler: "save_job", job_id: "big", job: big } });
    expect(saved.statusCode).toBe(200);
    expect(at(saved.body, "a", "error")).toMatch(/MAX_CONFIG_ENTRY_BYTES/);
    const unknownLevel = await bistro({
      a: { handler: "save_job", job_id: "j", job: { owner: "o", level_for_tasks: "x" } },
    });
    expect(at(unknownLevel.body, "a", "error")).toMatch(/unknown level/);
    await expectConfigKept(1);
  });

  it("JSON past MAX_JSON_DEPTH is a 400 (Bistro's POST / keeps its one-string answer), never a RangeError", async () => {
    await call("PUT", "/config", { body: simple() });
    const deep = `{"bistro_settings": ${"[".repeat(10_000)}${"]".repeat(10_000)}}`;
    const put = await call("PUT", "/config", { text: deep, headers: { "content-type": "application/json" } });
    expect(put.statusCode).toBe(400);
    expect(message(put)).toMatch(/MAX_JSON_DEPTH/);
    const post = await call("POST", "/", { text: `{"a": ${"[".repeat(10_000)}${"]".repeat(10_000)}}` });
    expect(post.statusCode).toBe(200);
    expect(post.body).toMatch(/MAX_JSON_DEPTH/);
    const malformed = await call("POST", "/", { text: "{nope" });
    expect(malformed.statusCode).toBe(200);
    expect(typeof malformed.body).toBe("string");
    await expectConfigKept(1);
  });

  it("a body over MAX_BODY_BYTES is a 400 naming the limit, in lib/api and in sous local's server", async () => {
    const text = JSON.stringify({ nodes: [{ name: "x".repeat(6_000_000), level: "level1", parent: "scheduler" }] });
    const direct = await call("PUT", "/nodes/src", { text, headers: { "content-type": "application/json" } });
    expect(direct.statusCode).toBe(400);
    expect(message(direct)).toMatch(/MAX_BODY_BYTES/);
    const server = await serveApi(api, 0);
    try {
      const answer = await fetch(`${server.url}/nodes/src`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: text,
      });
      expect(answer.status).toBe(400);
      expect(await answer.text()).toMatch(/MAX_BODY_BYTES/);
    } finally {
      await server.close();
    }
  });

  it("a 1 MB pushed node name and 1M tags are 400s naming the limit, never 500s", async () => {
    await call("PUT", "/config", { body: simple() });
    const longName = await call("PUT", "/nodes/src", {
      body: { nodes: [{ name: "n".repeat(1_000_000), level: "level1", parent: "scheduler" }] },
    });
    expect(longName.statusCode).toBe(400);
    expect(at(longName.body, "error", "issues", 0)).toMatchObject({
      path: "nodes.0.name",
      message: expect.stringMatching(/MAX_NODE_NAME_BYTES/) as string,
    });
    const tags = await call("PUT", "/nodes/src", {
      body: {
        nodes: [
          { name: "n1", level: "level1", parent: "scheduler", tags: Array.from({ length: 1_000_000 }, () => "t") },
        ],
      },
    });
    expect(tags.statusCode).toBe(400);
    expect(at(tags.body, "error", "issues", 0, "message")).toMatch(/MAX_TAGS_PER_NODE/);
    expect(await readPushedNodes(h.store, "src")).toBeNull();
  });

  it("task_logs and GET /logs refuse more than MAX_LOG_QUERY_JOBS jobs before reading anything", async () => {
    await call("PUT", "/config", { body: simple() });
    const jobs = Array.from({ length: 3_000 }, (_, i) => `j${i}`);
    const answer = await bistro({ a: { handler: "task_logs", log_type: "stdout", jobs } });
    expect(at(answer.body, "a", "error")).toMatch(/3,000; the limit is 1,000 \(MAX_LOG_QUERY_JOBS\)/);
    const get = await call("GET", "/logs", { query: { job: jobs } });
    expect(get.statusCode).toBe(400);
    expect(message(get)).toMatch(/MAX_LOG_QUERY_JOBS/);
    expect(logQueries).toEqual([]);
  });
});
