// Trust boundaries on DynamoDB Local + fauxqs (docs/adr/0004): a second registered worker cannot
// end the first one's running task (right job, node and attempt, with its own or the victim's
// worker id) nor keep the first one alive with heartbeats. The forged message is refused and
// logged; the task keeps running, its slot stays taken, counters and worker health are untouched.
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { makeApi, type Api } from "../../lib/api";
import { parseMessage, workerMessageSchema, type StartMessage, type TaskEnd } from "../../lib/dispatch/messages";
import { attemptTokens } from "../../lib/dispatch/tokens";
import { ingestStatuses } from "../../lib/round/apply-statuses";
import { readCounters } from "../../lib/store/counters";
import { getWorker, listWorkers } from "../../lib/store/workers";
import { readJobTasks } from "../../lib/store/tasks";
import { InProcessControlPlane, type RegistrationAnswer } from "../../lib/worker/control-plane";
import { uniqueName } from "../helpers/aws";
import { roundHarness } from "../helpers/round";

type Harness = Awaited<ReturnType<typeof roundHarness>>;

/** One job over two shards and an instance-wide slot of limit 1: only one task may run at a time. */
const CONFIG = {
  bistro_settings: {
    enabled: true,
    nodes: { levels: ["shard"], node_sources: [{ source: "manual", prefs: { s1: [], s2: [] } }] },
    resources: { instance: { slot: { limit: 1, default: 1 } } },
  },
  "bistro_job->etl": { owner: "test" },
};

async function setup() {
  const h = await roundHarness(7);
  await h.setConfig(CONFIG);
  const prefix = uniqueName("trust");
  const logged: Record<string, unknown>[] = [];
  const controlPlane = new InProcessControlPlane({
    store: h.store,
    sqs: h.store.aws.sqs,
    queuePrefix: prefix,
    statusQueueUrl: "http://status.invalid/q",
    clock: h.now,
    log: (event) => logged.push(event),
  });
  const register = (id: string) =>
    controlPlane.register({ id, hostname: `${id}.host`, instanceId: `${id}-1`, resources: {}, heartbeatPeriodSec: 15 });
  const victim = await register("victim");
  const attacker = await register("attacker");
  const api: Api = makeApi({
    store: h.store,
    sqs: h.store.aws.sqs,
    clock: h.now,
    instanceName: "scheduler",
    poke: () => Promise.resolve(),
    workerQueuePrefix: prefix,
    statusQueueUrl: "http://status.invalid/q",
    log: (event) => logged.push(event),
  });
  return { h, victim, attacker, logged, api, controlPlane };
}

/** The start orders on a worker's queue. */
async function startOrders(h: Harness, worker: RegistrationAnswer): Promise<StartMessage[]> {
  const { Messages = [] } = await h.store.aws.sqs.send(
    new ReceiveMessageCommand({ QueueUrl: worker.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
  );
  return Messages.flatMap((m) => {
    const parsed = parseMessage(workerMessageSchema, m.Body ?? "");
    return parsed.ok && parsed.value.type === "start" ? [parsed.value] : [];
  });
}

const end = (order: StartMessage, fields: Partial<TaskEnd>): TaskEnd => ({
  job: order.job,
  node: order.node,
  attempt: order.attempt,
  worker: "victim",
  rawStatus: "done",
  killed: false,
  exitCode: 0,
  signal: null,
  endedAtMs: 0,
  ...fields,
});

async function state(h: Harness) {
  return {
    tasks: await readJobTasks(h.store, "etl"),
    counters: [...(await readCounters(h.store))].map(([c, r]) => [c, [...r]]),
    workers: await listWorkers(h.store),
  };
}

describe("a second registered worker", () => {
  let h: Harness | undefined;
  afterEach(() => {
    h?.destroy();
    h = undefined;
  });

  it("cannot end the first one's running task: refused and logged, the task keeps running, no second task starts", async () => {
    const s = await setup();
    h = s.h;
    const first = await s.h.round();
    expect(first.started).toHaveLength(1); // the slot's limit is 1
    const [order] = await startOrders(s.h, first.started[0]!.worker === "victim" ? s.victim : s.attacker);
    expect(order).toBeDefined();
    // The victim runs the task; make sure of it whichever worker the policy picked.
    expect(first.started[0]).toMatchObject({ worker: expect.any(String) as string });
    const victimId = first.started[0]!.worker;
    const attackerId = victimId === "victim" ? "attacker" : "victim";
    const before = await state(s.h);

    // Everything the attacker can know: the job, node and attempt (attempt ids are predictable),
    // either worker id, and tokens of its own making; never the victim's token.
    const foreignKey = attemptTokens(Buffer.alloc(32, 7));
    const forgeries: TaskEnd[] = [
      end(order!, { worker: victimId }),
      end(order!, { worker: attackerId }),
      end(order!, { worker: victimId, token: "guessed-token" }),
      end(order!, { worker: attackerId, token: "guessed-token" }),
      end(order!, { worker: victimId, token: foreignKey(order!) }),
      end(order!, { worker: victimId, notRunning: true, token: "another-guess" }),
      end(order!, { worker: victimId, token: order!.token.slice(0, -1) + (order!.token.endsWith("A") ? "B" : "A") }),
    ];
    let pokes = 0;
    const result = await ingestStatuses(
      {
        store: s.h.store,
        clock: s.h.now,
        log: (event) => s.logged.push(event),
        poke: () => {
          pokes++;
          return Promise.resolve();
        },
      },
      forgeries.map((forged, i) => ({ id: `forged-${i}`, body: JSON.stringify({ ends: [forged] }) })),
    );
    expect(result).toEqual({ failed: [], applied: 0, ignored: 0, refused: forgeries.length });
    expect(pokes).toBe(0);
    expect(s.logged.filter((e) => e.event === "status-forged")).toHaveLength(forgeries.length);
    expect(await state(s.h)).toEqual(before);
    expect(before.tasks[0]?.running?.attempt).toBe(order!.attempt);

    // The next round sees the slot still taken: nothing else starts.
    s.h.advance(1000);
    await s.h.heartbeat();
    const next = await s.h.round();
    expect(next.started).toEqual([]);
    expect((await readJobTasks(s.h.store, "etl")).filter((t) => t.state === "running")).toHaveLength(1);

    // The real end, with the token of the start order, is applied even behind forgeries in its
    // batch (they do not shadow it as duplicates); then the other shard starts.
    const real = await ingestStatuses({ store: s.h.store, clock: s.h.now, poke: () => Promise.resolve() }, [
      { id: "forged-again", body: JSON.stringify({ ends: [forgeries[0], forgeries[2]] }) },
      { id: "real", body: JSON.stringify({ ends: [end(order!, { worker: victimId, token: order!.token })] }) },
    ]);
    expect(real).toMatchObject({ applied: 1, refused: 2 });
    const after = await s.h.round();
    expect(after.started.map((t) => t.node)).toEqual([order!.node === "s1" ? "s2" : "s1"]);
  });

  it("cannot keep the first one alive with heartbeats: refused (403), and the silent worker is still declared lost", async () => {
    const s = await setup();
    h = s.h;
    await s.h.round();
    const before = await getWorker(s.h.store, "victim");
    const forge = (secret: string, worker = "victim") =>
      s.api.handle({
        method: "POST",
        path: `/workers/${worker}/heartbeat`,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ instanceId: "victim-1", secret }),
      });
    // Every 15 s for 10 minutes the attacker sends the victim's heartbeat, with its own secret or a guess.
    for (let t = 0; t < 40; t++) {
      s.h.advance(15_000);
      expect((await forge(t % 2 === 0 ? s.attacker.heartbeatSecret : "guess")).statusCode).toBe(403);
      await s.controlPlane.heartbeat({ id: "attacker", instanceId: "attacker-1", secret: s.attacker.heartbeatSecret });
    }
    expect((await getWorker(s.h.store, "victim"))?.heartbeatAtMs).toBe(before?.heartbeatAtMs);
    expect(s.logged.filter((e) => e.event === "heartbeat-forged")).toHaveLength(40);
    const round = await s.h.round();
    expect(round.lostWorkers).toEqual(["victim"]);
    // Only the real secret counts, and only from the registered instance.
    expect((await forge(s.victim.heartbeatSecret)).body).toEqual({
      ok: false,
      reason: expect.stringMatching(/declared lost/) as string,
    });
  });

  it("cannot make a healthy worker look lost with a forged heartbeat either", async () => {
    const s = await setup();
    h = s.h;
    s.h.advance(600_000); // the victim is silent past must_die, but not yet declared lost
    const forged = await s.controlPlane
      .heartbeat({ id: "victim", instanceId: "victim-1", secret: s.attacker.heartbeatSecret })
      .catch((error: unknown) => error);
    expect(forged).toBeInstanceOf(Error);
    expect((await getWorker(s.h.store, "victim"))?.lostAtMs).toBeUndefined();
  });
});
