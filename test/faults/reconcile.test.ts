// Reconciliation of running attempts with their workers' heartbeats, and forgive racing a real
// status. A dead-lettered end leaves its task `running`; the worker's heartbeats stop listing the
// attempt, and once the list is younger than the start order by the grace, the round ends it
// (error with backoff, resources released). Orders not yet received, or re-sent late, are spared.
import { makeApi } from "../../lib/api";
import { applyStatuses } from "../../lib/round/apply-statuses";
import { StatusBits } from "../../lib/model/status";
import { readCounters } from "../../lib/store/counters";
import { readJobTasks } from "../../lib/store/tasks";
import { getWorker } from "../../lib/store/workers";
import { InProcessControlPlane } from "../../lib/worker/control-plane";
import { readAttemptTokens } from "../../lib/store/dispatch-key";
import { roundHarness, workerSecret } from "../helpers/round";

const GRACE_MS = 75_000;

const config = {
  bistro_settings: {
    enabled: true,
    backoff: [30, 60, "fail"],
    nodes: { levels: ["host"], node_sources: [{ source: "manual", prefs: { h1: [], h2: [] } }] },
    resources: { host: { slots: { limit: 1, default: 1 } } },
  },
  "bistro_job->sync": { owner: "test" },
};

async function setUp() {
  const h = await roundHarness();
  await h.setConfig(config);
  await h.addWorker("w1");
  const plane = new InProcessControlPlane({
    store: h.store,
    sqs: h.store.aws.sqs,
    queuePrefix: "unused",
    statusQueueUrl: "unused",
    clock: h.now,
  });
  /** A heartbeat of w1 listing `running`, made `ageMs` before it arrives. */
  const heartbeat = async (running: string[], ageMs = 0) => {
    const answer = await plane.heartbeat({
      id: "w1",
      instanceId: "w1-1",
      secret: workerSecret("w1"),
      running,
      sentAtMs: h.now() - ageMs,
    });
    expect(answer).toEqual({ ok: true });
  };
  const api = makeApi({
    store: h.store,
    sqs: h.store.aws.sqs,
    clock: h.now,
    instanceName: "scheduler",
    poke: () => Promise.resolve(),
    workerQueuePrefix: "unused",
    statusQueueUrl: "unused",
  });
  return { h, heartbeat, api };
}

const byNode = async (h: Awaited<ReturnType<typeof roundHarness>>) =>
  new Map((await readJobTasks(h.store, "sync")).map((t) => [t.node, t]));

describe("an attempt its live worker does not list", () => {
  it("is ended after the grace, releasing its resources; the late real end still replaces it", async () => {
    const { h, heartbeat } = await setUp();
    try {
      const first = await h.round();
      expect(first.started.map((s) => s.node).sort()).toEqual(["h1", "h2"]);
      const h1 = first.started.find((s) => s.node === "h1")!;
      const h2 = first.started.find((s) => s.node === "h2")!;
      // h1's end is dead-lettered; h2 still runs. Heartbeats inside the grace change nothing.
      h.advance(GRACE_MS - 1_000);
      await heartbeat([h2.attempt]);
      expect((await h.round()).unknownAttempts).toEqual([]);
      // A list made past the grace, but sent before it (delayed in transit): still nothing.
      h.advance(5_000);
      await heartbeat([h2.attempt], 5_000);
      expect((await h.round()).unknownAttempts).toEqual([]);
      expect((await getWorker(h.store, "w1"))?.runningAttempts).toEqual([h2.attempt]);

      await heartbeat([h2.attempt]);
      const healed = await h.round();
      expect(healed.unknownAttempts).toEqual([{ job: "sync", node: "h1", attempt: h1.attempt, worker: "w1" }]);
      const tasks = await byNode(h);
      expect(tasks.get("h1")).toMatchObject({ state: "backoff", status: { backoffSec: 30 } });
      expect(tasks.get("h1")!.status!.bits & StatusBits.OVERWRITEABLE).toBeTruthy();
      expect(tasks.get("h2")?.state).toBe("running");
      expect((await readCounters(h.store)).get("node#h1")?.get("slots")).toBe(0);

      // The dead-lettered end is redriven: the real status replaces the placeholder.
      const late = await h.finish([{ job: "sync", node: "h1", attempt: h1.attempt, worker: "w1", rawStatus: "done" }]);
      expect(late.applied).toBe(1);
      expect((await byNode(h)).get("h1")?.state).toBe("done");
    } finally {
      h.destroy();
    }
  });

  it("spares an order whose dispatch failed until its re-send is older than the grace", async () => {
    const { h, heartbeat } = await setUp();
    try {
      h.deps.send = (_url, bodies) =>
        Promise.resolve({ requests: 1, failed: bodies.map((body) => ({ body, error: "injected" })) });
      const first = await h.round();
      expect(first.started).toHaveLength(2);
      delete h.deps.send;
      h.advance(GRACE_MS + 10_000);
      await heartbeat([]);
      // Not known to be dispatched: re-sent now, not ended.
      const resent = await h.round();
      expect(resent).toMatchObject({ resent: 2, unknownAttempts: [] });
      h.advance(GRACE_MS - 1_000);
      await heartbeat([]);
      expect((await h.round()).unknownAttempts).toEqual([]);
      h.advance(2_000);
      await heartbeat([]);
      expect((await h.round()).unknownAttempts).toHaveLength(2);
    } finally {
      h.destroy();
    }
  });

  it("leaves attempts alone when the worker sends no list", async () => {
    const { h } = await setUp();
    try {
      await h.round();
      h.advance(GRACE_MS * 2);
      await h.heartbeat();
      expect((await h.round()).unknownAttempts).toEqual([]);
      expect([...(await byNode(h)).values()].map((t) => t.state)).toEqual(["running", "running"]);
    } finally {
      h.destroy();
    }
  });
});

type Harness = Awaited<ReturnType<typeof roundHarness>>;

/** The store, but the first write whose condition matches `condition` runs `before` first. */
function interceptFirstWrite(h: Harness, condition: RegExp, before: () => Promise<void>) {
  const doc = h.store.doc;
  const state = { fired: false };
  type Input = { ConditionExpression?: string; TransactItems?: { Update?: { ConditionExpression?: string } }[] };
  // The condition of a single write, or of any write of a transaction.
  const conditionsOf = (input: Input | undefined) =>
    [input?.ConditionExpression, ...(input?.TransactItems ?? []).map((t) => t.Update?.ConditionExpression)].filter(
      (c) => c !== undefined,
    );
  const send = async (command: { input?: Input }) => {
    if (!state.fired && conditionsOf(command.input).some((c) => condition.test(c))) {
      state.fired = true;
      await before();
    }
    return (doc.send as (c: unknown) => Promise<unknown>)(command);
  };
  const store = {
    ...h.store,
    doc: new Proxy(doc, { get: (target, key) => (key === "send" ? send : (Reflect.get(target, key) as unknown)) }),
  };
  return { store, state };
}

function apiOn(h: Harness, store: Harness["store"]) {
  return makeApi({
    store,
    sqs: h.store.aws.sqs,
    clock: h.now,
    instanceName: "scheduler",
    poke: () => Promise.resolve(),
    workerQueuePrefix: "unused",
    statusQueueUrl: "unused",
  });
}

describe("forgive racing a real status", () => {
  it("never overwrites a real status that landed first, and never makes one get lost", async () => {
    const { h, heartbeat } = await setUp();
    try {
      const first = await h.round();
      h.advance(GRACE_MS + 1_000);
      await heartbeat([]);
      expect((await h.round()).unknownAttempts).toHaveLength(2);
      const [a, b] = first.started;

      // Forgive lands between the status ingestion's read and its write: the real status still wins.
      const forgiveFirst = interceptFirstWrite(h, /#last = :attempt/, async () => {
        const forgiven = await apiOn(h, h.store).handle({ method: "POST", path: `/tasks/sync/${a!.node}/forgive` });
        expect(forgiven.body).toMatchObject({ forgiven: true });
      });
      const end = { job: "sync", node: a!.node, attempt: a!.attempt, worker: "w1", killed: false, exitCode: 0 };
      const token = (await readAttemptTokens(h.store))(end);
      const body = JSON.stringify({ ends: [{ ...end, token, signal: null, endedAtMs: h.now(), rawStatus: "done" }] });
      const result = await applyStatuses({ store: forgiveFirst.store, clock: h.now }, [{ id: "m", body }]);
      expect(forgiveFirst.state.fired).toBe(true);
      expect(result.applied).toBe(1);
      expect((await byNode(h)).get(a!.node)?.state).toBe("done");

      // The real status lands between forgive's read and its write: forgive gives up.
      const statusFirst = interceptFirstWrite(h, /^#version = :version AND #state <> :running$/, async () => {
        await h.finish([{ job: "sync", node: b!.node, attempt: b!.attempt, worker: "w1", rawStatus: "failed" }]);
      });
      const forgiven = await apiOn(h, statusFirst.store).handle({
        method: "POST",
        path: `/tasks/sync/${b!.node}/forgive`,
      });
      expect(statusFirst.state.fired).toBe(true);
      expect(forgiven.body).toMatchObject({ forgiven: false });
      expect((await byNode(h)).get(b!.node)?.status?.bits).toBe(StatusBits.FAILED);
    } finally {
      h.destroy();
    }
  });
});
