// One task the store refuses never stops the round. The API and node refreshes now refuse names
// over the key limits before they reach a round (docs/limits.md), so these tests make the store
// refuse one node's start the two ways DynamoDB does for an item it cannot take: DynamoDB Local
// names the item in the cancellation reasons; AWS answers one ValidationException for the whole
// request. The commit drops (or, by splitting the batch, finds) that start, records it against
// the task (error with backoff, then failed, visible at GET /tasks/refused), and starts the others.
import { DynamoDBServiceException, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { makeApi } from "../../lib/api";
import { manualNodes, NodeSourceRegistry, rangeLabelSource } from "../../lib/nodes";
import { readJobTasks } from "../../lib/store/tasks";
import { readSchedulerState } from "../../lib/store/scheduler-state";
import { roundHarness } from "../helpers/round";

/** The node whose task items the store refuses. */
const LONG_NODE = "db-refused-by-the-store";
const SIZE_MESSAGE =
  "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes";

/** The built-in manual source, plus the node the store refuses. */
const sources = new NodeSourceRegistry([
  { name: "manual", fetch: (context) => [...manualNodes(context), { name: LONG_NODE, level: "db", parent: "host1" }] },
  rangeLabelSource,
]);

const config = {
  bistro_settings: {
    enabled: true,
    backoff: [10, 20, "fail"],
    nodes: { levels: ["host", "db"], node_sources: [{ source: "manual", prefs: { host1: ["db1", "db2", "db3"] } }] },
    resources: { host: { host_concurrency: { limit: 10, default: 1 } } },
  },
  "bistro_job->alpha": { owner: "test", priority: 2 },
  "bistro_job->beta": { owner: "test", priority: 1 },
};

describe("a start the store refuses", () => {
  it("is recorded against its task while every other task starts", async () => {
    const h = await roundHarness();
    h.deps.nodeSources = sources;
    h.deps.store = refusingAsDynamoDbLocalDoes(h);
    try {
      await h.setConfig(config);
      await h.addWorker("w1", {});
      const first = await h.round();
      const started = first.started.map((s) => `${s.job}/${s.node}`).sort();
      expect(started).toEqual(["alpha/db1", "alpha/db2", "alpha/db3", "beta/db1", "beta/db2", "beta/db3"]);
      expect(first.storeRefused.map((r) => [r.job, r.node === LONG_NODE])).toEqual([
        ["alpha", true],
        ["beta", true],
      ]);
      expect(first.storeRefused[0]?.reason).toMatch(/store refused/);
      // The counters of the refused starts were never taken: only six tasks hold the host.
      const state = await readSchedulerState(h.store);
      expect(state.refusedTasks.map((r) => [r.job, r.nodeLength, r.status.backoffSec])).toEqual([
        ["alpha", LONG_NODE.length, 10],
        ["beta", LONG_NODE.length, 10],
      ]);

      // Visible through the API, with its backoff.
      const api = makeApi(apiDeps(h));
      const listed = await api.handle({ method: "GET", path: "/tasks/refused" });
      expect(listed.statusCode).toBe(200);
      const body = listed.body as { tasks: { job: string; state: string; backoffUntilSec?: number }[] };
      expect(body.tasks.map((t) => [t.job, t.state, typeof t.backoffUntilSec])).toEqual([
        ["alpha", "backoff", "number"],
        ["beta", "backoff", "number"],
      ]);

      // During the backoff nothing retries it; the others finish and are not held up.
      await h.finish(first.started.map((s) => ({ ...s, rawStatus: "done" })));
      h.advance(5_000);
      await h.heartbeat();
      expect((await h.round()).storeRefused).toEqual([]);
      // After it, the retry is refused again and the ladder advances to its end: failed.
      h.advance(11_000);
      await h.heartbeat();
      expect((await h.round()).storeRefused).toHaveLength(2);
      h.advance(21_000);
      await h.heartbeat();
      expect((await h.round()).storeRefused).toHaveLength(2);
      const after = await readSchedulerState(h.store);
      expect(after.refusedTasks.map((r) => r.status.bits & 16)).toEqual([16, 16]);
      h.advance(60_000);
      await h.heartbeat();
      expect((await h.round()).storeRefused).toEqual([]);
      expect((await readJobTasks(h.store, "alpha")).map((t) => t.state)).toEqual(["done", "done", "done"]);
    } finally {
      h.destroy();
    }
  });
});

/** Whether a request writes an item keyed by the refused node (its task item: sort key = node). */
const holdsRefusedKey = (input: unknown) => JSON.stringify(input).includes(`"sk":${JSON.stringify(LONG_NODE)}`);

/** DynamoDB Local cancels the transaction and names the item it cannot take in the reasons. */
function refusingAsDynamoDbLocalDoes(h: Awaited<ReturnType<typeof roundHarness>>) {
  const doc = h.store.doc;
  const send = (command: unknown) => {
    if (command instanceof TransactWriteCommand && holdsRefusedKey(command.input)) {
      const items = command.input.TransactItems ?? [];
      return Promise.reject(
        new TransactionCanceledException({
          $metadata: {},
          message: "Transaction cancelled, please refer cancellation reasons for specific reasons",
          CancellationReasons: items.map((item) =>
            JSON.stringify(item).includes(LONG_NODE)
              ? { Code: "ValidationError", Message: SIZE_MESSAGE }
              : { Code: "None" },
          ),
        }),
      );
    }
    return (doc.send as (c: unknown) => Promise<unknown>)(command);
  };
  return {
    ...h.store,
    doc: new Proxy(doc, { get: (target, key) => (key === "send" ? send : (Reflect.get(target, key) as unknown)) }),
  };
}

/**
 * AWS answers a key over the size limit with one ValidationException for the whole request, naming
 * no item (DynamoDB Local names it in the cancellation reasons instead): this store answers so.
 */
function refusingAsAwsDoes(h: Awaited<ReturnType<typeof roundHarness>>) {
  const doc = h.store.doc;
  const send = (command: unknown) => {
    if (command instanceof TransactWriteCommand && holdsRefusedKey(command.input)) {
      return Promise.reject(
        new DynamoDBServiceException({
          name: "ValidationException",
          $fault: "client",
          $metadata: {},
          message: SIZE_MESSAGE,
        }),
      );
    }
    return (doc.send as (c: unknown) => Promise<unknown>)(command);
  };
  return {
    ...h.store,
    doc: new Proxy(doc, { get: (target, key) => (key === "send" ? send : (Reflect.get(target, key) as unknown)) }),
  };
}

describe("a whole-request ValidationException (as AWS answers)", () => {
  it("is narrowed down to the refused starts by splitting the batch", async () => {
    const h = await roundHarness();
    h.deps.nodeSources = sources;
    h.deps.store = refusingAsAwsDoes(h);
    try {
      await h.setConfig(config);
      await h.addWorker("w1", {});
      const first = await h.round();
      expect(first.started).toHaveLength(6);
      expect(first.storeRefused.map((r) => [r.job, r.reason])).toEqual([
        ["alpha", expect.stringMatching(/size limit of 1024 bytes/)],
        ["beta", expect.stringMatching(/size limit of 1024 bytes/)],
      ]);
    } finally {
      h.destroy();
    }
  });
});

function apiDeps(h: Awaited<ReturnType<typeof roundHarness>>): Parameters<typeof makeApi>[0] {
  return {
    store: h.store,
    sqs: h.store.aws.sqs,
    clock: h.now,
    instanceName: "scheduler",
    poke: () => Promise.resolve(),
    workerQueuePrefix: "unused",
    statusQueueUrl: "unused",
  };
}
