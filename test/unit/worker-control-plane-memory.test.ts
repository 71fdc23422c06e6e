// The in-process worker control plane over the in-memory workers port (no table, no emulator):
// registration, forged and late heartbeats, and ids held by live instances.
import type { SQSClient } from "@aws-sdk/client-sqs";
import { ConflictError, ForbiddenError } from "../../lib/store/errors";
import { memoryStorePorts } from "../../lib/store/memory-store";
import type { StoreContext } from "../../lib/store/context";
import { BISTRO_WORKER_TIMINGS } from "../../lib/scheduler/worker-health";
import { InProcessControlPlane } from "../../lib/worker/control-plane";

function plane() {
  let nowMs = 1_000_000;
  const queues: string[] = [];
  const sqs = {
    send: (command: { input: { QueueName?: string } }) => {
      if (command.input.QueueName) queues.push(command.input.QueueName);
      return Promise.resolve({ QueueUrl: `https://sqs/${command.input.QueueName ?? ""}` });
    },
  } as unknown as SQSClient;
  const ports = memoryStorePorts();
  const control = new InProcessControlPlane({
    store: {} as StoreContext, // never reached: every registration goes through the workers port
    workers: ports.workers,
    sqs,
    queuePrefix: "sous",
    statusQueueUrl: "https://sqs/status",
    clock: () => nowMs,
  });
  return { control, ports, queues, advance: (ms: number) => (nowMs += ms) };
}

const registration = (instanceId: string) => ({
  id: "w1",
  hostname: "host",
  instanceId,
  resources: {},
  heartbeatPeriodSec: 15,
});

describe("InProcessControlPlane over the in-memory workers port", () => {
  it("registers, accepts heartbeats with the secret, and refuses forged ones", async () => {
    const { control, ports, queues } = plane();
    const answer = await control.register(registration("i1"));
    expect(queues).toHaveLength(1);
    expect((await ports.workers.get("w1"))?.queueUrl).toBe(answer.queueUrl);
    expect(await control.heartbeat({ id: "w1", instanceId: "i1", secret: answer.heartbeatSecret })).toEqual({
      ok: true,
    });
    await expect(control.heartbeat({ id: "w1", instanceId: "i1", secret: "guessed" })).rejects.toBeInstanceOf(
      ForbiddenError,
    );
  });

  it("keeps an id for its live instance and frees it once that one is silent long enough", async () => {
    const { control, advance } = plane();
    const first = await control.register(registration("i1"));
    await expect(control.register(registration("i2"))).rejects.toThrow(ConflictError);
    await expect(control.register(registration("i2"))).rejects.toThrow(/the id is free after/);
    const t = BISTRO_WORKER_TIMINGS;
    advance((15 + t.heartbeatGraceSec + t.loseUnhealthyAfterSec) * 1000 + 1);
    await control.register(registration("i2"));
    expect(await control.heartbeat({ id: "w1", instanceId: "i1", secret: first.heartbeatSecret })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/replaced/) as unknown,
    });
  });

  it("declares a late instance lost instead of reviving it", async () => {
    const { control, ports, advance } = plane();
    const answer = await control.register(registration("i1"));
    const t = BISTRO_WORKER_TIMINGS;
    advance((15 + t.heartbeatGraceSec + t.loseUnhealthyAfterSec) * 1000 + 1);
    expect(await control.heartbeat({ id: "w1", instanceId: "i1", secret: answer.heartbeatSecret })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/declared lost/) as unknown,
    });
    expect((await ports.workers.get("w1"))?.lostAtMs).toBeDefined();
  });
});
