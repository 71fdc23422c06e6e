// InProcessControlPlane on DynamoDB Local + fauxqs: registration (queue, timings, the replacement
// rule and its ConflictError) and heartbeats (acknowledged, or not-ok for a replaced or lost
// instance). A manual clock stands in for time, so "silent for 10 minutes" takes no time at all.
import { GetQueueUrlCommand } from "@aws-sdk/client-sqs";

import { workerQueueName } from "../../lib/dispatch/sqs";
import { BISTRO_WORKER_TIMINGS } from "../../lib/round/worker-health";
import { ConflictError } from "../../lib/store/errors";
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

function setup() {
  const clock = { nowMs: 1_800_000_000_000 };
  const prefix = uniqueName("sous-cp");
  const controlPlane = new InProcessControlPlane({
    store,
    sqs: store.aws.sqs,
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
  return { clock, prefix, controlPlane, registration };
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
    });
    expect(await getWorker(store, worker.id)).toEqual({
      ...worker,
      queueUrl: QueueUrl,
      registeredAtMs: clock.nowMs,
      heartbeatAtMs: clock.nowMs,
    });
  });

  it("acknowledges heartbeats of the registered instance and records their time", async () => {
    const { clock, controlPlane, registration } = setup();
    const worker = registration("i-1");
    await controlPlane.register(worker);
    clock.nowMs += 15_000;
    expect(await controlPlane.heartbeat({ id: worker.id, instanceId: "i-1" })).toEqual({ ok: true });
    expect((await getWorker(store, worker.id))?.heartbeatAtMs).toBe(clock.nowMs);
  });

  it("refuses a second instance while the first is alive, with a ConflictError saying when the id frees up", async () => {
    const { clock, controlPlane, registration } = setup();
    const first = registration("i-1");
    await controlPlane.register(first);
    clock.nowMs += MUST_DIE_MS; // silent exactly as long as must_die needs: not yet past it
    const attempt = controlPlane.register({ ...first, instanceId: "i-2" });
    await expect(attempt).rejects.toBeInstanceOf(ConflictError);
    await expect(attempt).rejects.toThrow(
      new RegExp(`instance i-1 on host-a .* free after ${new Date(clock.nowMs).toISOString()}`),
    );
    expect((await getWorker(store, first.id))?.instanceId).toBe("i-1");
  });

  it("lets a new instance replace one silent past the must_die deadline; the old one's heartbeats are refused", async () => {
    const { clock, controlPlane, registration } = setup();
    const first = registration("i-1");
    await controlPlane.register(first);
    clock.nowMs += MUST_DIE_MS + 1;
    await controlPlane.register({ ...first, instanceId: "i-2" });
    expect((await getWorker(store, first.id))?.instanceId).toBe("i-2");
    expect(await controlPlane.heartbeat({ id: first.id, instanceId: "i-1" })).toEqual({
      ok: false,
      reason: expect.stringMatching(/replaced/) as string,
    });
    expect(await controlPlane.heartbeat({ id: first.id, instanceId: "i-2" })).toEqual({ ok: true });
  });

  it("lets a new instance replace one declared lost", async () => {
    const { clock, controlPlane, registration } = setup();
    const first = registration("i-1");
    await controlPlane.register(first);
    expect(await markWorkerLost(store, first.id, "i-1", clock.nowMs)).toBe(true);
    expect(await controlPlane.heartbeat({ id: first.id, instanceId: "i-1" })).toEqual({
      ok: false,
      reason: expect.stringMatching(/declared lost/) as string,
    });
    await controlPlane.register({ ...first, instanceId: "i-2" });
    expect((await getWorker(store, first.id))?.lostAtMs).toBeUndefined();
  });

  it("does not revive an instance silent past must_die: its late heartbeat is refused and it is marked lost", async () => {
    const { clock, controlPlane, registration } = setup();
    const first = registration("i-1");
    await controlPlane.register(first);
    clock.nowMs += MUST_DIE_MS;
    expect(await controlPlane.heartbeat({ id: first.id, instanceId: "i-1" })).toEqual({ ok: true });
    clock.nowMs += MUST_DIE_MS + 1;
    expect(await controlPlane.heartbeat({ id: first.id, instanceId: "i-1" })).toEqual({
      ok: false,
      reason: expect.stringMatching(/declared lost/) as string,
    });
    expect((await getWorker(store, first.id))?.lostAtMs).toBe(clock.nowMs);
  });
});
