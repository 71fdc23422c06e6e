// InProcessControlPlane on DynamoDB Local + fauxqs: registration (queue, timings, heartbeat
// secret, the replacement rule and its ConflictError, no queue left by a failed registration)
// and heartbeats (acknowledged with the registration's secret, not-ok for a replaced or lost
// instance, refused when forged). A manual clock stands in for time, so "silent for 10 minutes"
// takes no time at all.
import { GetQueueUrlCommand, ListQueuesCommand } from "@aws-sdk/client-sqs";
import { PutCommand } from "@aws-sdk/lib-dynamodb";

import { workerQueueName } from "../../lib/dispatch/sqs";
import { BISTRO_WORKER_TIMINGS } from "../../lib/scheduler/worker-health";
import { hashSecret } from "../../lib/dispatch/tokens";
import { ConflictError, ForbiddenError } from "../../lib/store/errors";
import { getWorker, markWorkerLost } from "../../lib/store/workers";
import { InProcessControlPlane, type WorkerRegistration } from "../../lib/worker/control-plane";
import { uniqueName } from "../helpers/aws";
import { freshStore } from "../helpers/store";

let store: Awaited<ReturnType<typeof freshStore>>;
beforeAll(async () => {
  store = await freshStore();
});
afterAll(() => {
  store.destroy();
});

function setup(doc = store.doc) {
  const clock = { nowMs: 1_800_000_000_000 };
  const prefix = uniqueName("sous-cp");
  const logged: Record<string, unknown>[] = [];
  const controlPlane = new InProcessControlPlane({
    store: { doc, tableName: store.tableName },
    sqs: store.aws.sqs,
    log: (event) => logged.push(event),
    queuePrefix: prefix,
    statusQueueUrl: "http://status.example/q",
    clock: () => clock.nowMs,
  });
  const registration = (instanceId: string, id = uniqueName("w")): WorkerRegistration => ({
    id,
    hostname: "host-a",
    instanceId,
    resources: { cpu: 4 },
    heartbeatPeriodSec: 15,
  });
  return { clock, prefix, controlPlane, registration, logged };
}

/** Bistro's defaults: must_die after 15 + 60 + 500 s of silence. */
const MUST_DIE_MS = (15 + BISTRO_WORKER_TIMINGS.heartbeatGraceSec + BISTRO_WORKER_TIMINGS.loseUnhealthyAfterSec) * 1000;

describe("InProcessControlPlane", () => {
  it("registers a worker: its queue, the status queue, the scheduler's timings, and a record in the store", async () => {
    const { clock, prefix, controlPlane, registration } = setup();
    const worker = registration("i-1");
    const answer = await controlPlane.register(worker);
    const { QueueUrl } = await store.aws.sqs.send(
      new GetQueueUrlCommand({ QueueName: workerQueueName(prefix, worker.id) }),
    );
    expect(answer).toEqual({
      queueUrl: QueueUrl,
      statusQueueUrl: "http://status.example/q",
      timings: BISTRO_WORKER_TIMINGS,
      heartbeatSecret: expect.stringMatching(/^[\w-]{43}$/) as string,
    });
    // Only the secret's hash is stored.
    expect(await getWorker(store, worker.id)).toEqual({
      ...worker,
      queueUrl: QueueUrl,
      registeredAtMs: clock.nowMs,
      heartbeatAtMs: clock.nowMs,
      secretHash: hashSecret(answer.heartbeatSecret),
    });
  });

  it("acknowledges heartbeats of the registered instance and records their time", async () => {
    const { clock, controlPlane, registration } = setup();
    const worker = registration("i-1");
    const { heartbeatSecret: secret } = await controlPlane.register(worker);
    clock.nowMs += 15_000;
    expect(await controlPlane.heartbeat({ id: worker.id, instanceId: "i-1", secret })).toEqual({ ok: true });
    expect((await getWorker(store, worker.id))?.heartbeatAtMs).toBe(clock.nowMs);
  });

  it("refuses a second instance while the first is alive, with a ConflictError saying when the id frees up", async () => {
    const { clock, controlPlane, registration } = setup();
    const first = registration("i-1");
    await controlPlane.register(first);
    clock.nowMs += MUST_DIE_MS; // silent exactly as long as must_die needs: not yet past it
    const attempt = controlPlane.register({ ...first, instanceId: "i-2" });
    await expect(attempt).rejects.toBeInstanceOf(ConflictError);
    await expect(attempt).rejects.toThrow(new RegExp(`free after ${new Date(clock.nowMs).toISOString()}`));
    // The live instance id is a name to forge heartbeats with: a 409 never tells it.
    await expect(attempt).rejects.not.toThrow(/i-1/);
    expect((await getWorker(store, first.id))?.instanceId).toBe("i-1");
  });

  it("lets a new instance replace one silent past the must_die deadline; the old one's heartbeats are refused", async () => {
    const { clock, controlPlane, registration } = setup();
    const first = registration("i-1");
    const old = await controlPlane.register(first);
    clock.nowMs += MUST_DIE_MS + 1;
    const next = await controlPlane.register({ ...first, instanceId: "i-2" });
    expect((await getWorker(store, first.id))?.instanceId).toBe("i-2");
    expect(await controlPlane.heartbeat({ id: first.id, instanceId: "i-1", secret: old.heartbeatSecret })).toEqual({
      ok: false,
      reason: expect.stringMatching(/replaced/) as string,
    });
    expect(await controlPlane.heartbeat({ id: first.id, instanceId: "i-2", secret: next.heartbeatSecret })).toEqual({
      ok: true,
    });
  });

  it("lets a new instance replace one declared lost", async () => {
    const { clock, controlPlane, registration } = setup();
    const first = registration("i-1");
    const { heartbeatSecret: secret } = await controlPlane.register(first);
    expect(await markWorkerLost(store, first.id, "i-1", clock.nowMs)).toBe(true);
    expect(await controlPlane.heartbeat({ id: first.id, instanceId: "i-1", secret })).toEqual({
      ok: false,
      reason: expect.stringMatching(/declared lost/) as string,
    });
    await controlPlane.register({ ...first, instanceId: "i-2" });
    expect((await getWorker(store, first.id))?.lostAtMs).toBeUndefined();
  });

  it("does not revive an instance silent past must_die: its late heartbeat is refused and it is marked lost", async () => {
    const { clock, controlPlane, registration } = setup();
    const first = registration("i-1");
    const { heartbeatSecret: secret } = await controlPlane.register(first);
    clock.nowMs += MUST_DIE_MS;
    expect(await controlPlane.heartbeat({ id: first.id, instanceId: "i-1", secret })).toEqual({ ok: true });
    clock.nowMs += MUST_DIE_MS + 1;
    expect(await controlPlane.heartbeat({ id: first.id, instanceId: "i-1", secret })).toEqual({
      ok: false,
      reason: expect.stringMatching(/declared lost/) as string,
    });
    expect((await getWorker(store, first.id))?.lostAtMs).toBe(clock.nowMs);
  });

  it("refuses a forged heartbeat (the victim's instance id with another secret, or none): nothing changes", async () => {
    const { clock, controlPlane, registration, logged } = setup();
    const victim = registration("i-victim");
    await controlPlane.register(victim);
    const attacker = await controlPlane.register(registration("i-attacker"));
    const before = await getWorker(store, victim.id);
    for (let step = 0; step < 3; step++) {
      clock.nowMs += 15_000;
      const forged = controlPlane.heartbeat({
        id: victim.id,
        instanceId: "i-victim",
        secret: attacker.heartbeatSecret,
      });
      await expect(forged).rejects.toBeInstanceOf(ForbiddenError);
    }
    expect(await getWorker(store, victim.id)).toEqual(before);
    expect(logged).toEqual(
      Array.from(
        { length: 3 },
        () => expect.objectContaining({ event: "heartbeat-forged", worker: victim.id }) as unknown,
      ),
    );
    // Forged heartbeats do not keep a silent victim alive: it is declared lost on schedule.
    clock.nowMs = (before?.heartbeatAtMs ?? 0) + MUST_DIE_MS + 1;
    const late = controlPlane.heartbeat({ id: victim.id, instanceId: "i-victim", secret: "guess" });
    await expect(late).rejects.toBeInstanceOf(ForbiddenError);
    expect((await getWorker(store, victim.id))?.heartbeatAtMs).toBe(before?.heartbeatAtMs);
  });

  it("lets an instance register again (a retry) only as the same caller; another caller gets a 409", async () => {
    const { controlPlane, registration } = setup();
    const worker = registration("i-1");
    const first = await controlPlane.register(worker, { principal: "AROAEXAMPLE:task-1" });
    // Its log folder is its IAM identity: the only one the worker policy lets it write.
    expect(first.logOwner).toBe("AROAEXAMPLE:task-1");
    expect((await controlPlane.register(registration("i-9", "other-worker"))).logOwner).toBeUndefined();
    await expect(controlPlane.register(worker, { principal: "AROAEXAMPLE:task-2" })).rejects.toBeInstanceOf(
      ConflictError,
    );
    await expect(controlPlane.register(worker)).rejects.toBeInstanceOf(ConflictError);
    expect((await getWorker(store, worker.id))?.secretHash).toBe(hashSecret(first.heartbeatSecret));
    // Heartbeats must come from the registering caller too.
    const secret = first.heartbeatSecret;
    await expect(
      controlPlane.heartbeat({ id: worker.id, instanceId: "i-1", secret }, { principal: "AROAEXAMPLE:task-2" }),
    ).rejects.toBeInstanceOf(ForbiddenError);
    expect(
      await controlPlane.heartbeat({ id: worker.id, instanceId: "i-1", secret }, { principal: "AROAEXAMPLE:task-1" }),
    ).toEqual({ ok: true });
    const retry = await controlPlane.register(worker, { principal: "AROAEXAMPLE:task-1" });
    expect((await getWorker(store, worker.id))?.secretHash).toBe(hashSecret(retry.heartbeatSecret));
  });

  it("leaves no queue behind when the registration's write fails, and none for a refused one", async () => {
    // A document client whose worker writes fail, as a throttled or unavailable table would.
    const failingDoc = new Proxy(store.doc, {
      get(target, property, receiver) {
        if (property !== "send") return Reflect.get(target, property, receiver) as unknown;
        return (command: unknown, ...rest: unknown[]) => {
          if (command instanceof PutCommand) return Promise.reject(new Error("simulated write failure"));
          return (target.send as (...args: unknown[]) => Promise<unknown>).call(target, command, ...rest);
        };
      },
    });
    const { controlPlane, registration, prefix } = setup(failingDoc);
    const queues = async () =>
      (await store.aws.sqs.send(new ListQueuesCommand({ QueueNamePrefix: prefix }))).QueueUrls ?? [];
    await expect(controlPlane.register(registration("i-1"))).rejects.toThrow("simulated write failure");
    expect(await queues()).toEqual([]);

    const ok = setup();
    const held = ok.registration("i-1");
    await ok.controlPlane.register(held);
    const listed = async () =>
      (await store.aws.sqs.send(new ListQueuesCommand({ QueueNamePrefix: ok.prefix }))).QueueUrls ?? [];
    await expect(ok.controlPlane.register({ ...held, instanceId: "i-2" })).rejects.toBeInstanceOf(ConflictError);
    await expect(ok.controlPlane.register({ ...ok.registration("i-3"), id: held.id })).rejects.toBeInstanceOf(
      ConflictError,
    );
    expect(await listed()).toHaveLength(1); // the live worker's own queue, untouched
  });
});
