// A start order slower than the reconciliation grace (the soak's over-subscriptions and double
// start under CPU load): the round commits a start, the worker's heartbeats made past the grace
// do not list it (the order has not arrived), so a round ends the attempt as unknown and frees its
// resources. When the order then arrives, the worker must refuse it: running it would hold a slot
// the scheduler already gave away and overlap the attempt's retry.
import { CreateQueueCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readCounters } from "../../lib/store/counters";
import { readJobTasks } from "../../lib/store/tasks";
import { getWorker } from "../../lib/store/workers";
import { InProcessControlPlane } from "../../lib/worker/control-plane";
import { startWorker, type LogSink, type WorkerEvent } from "../../lib/worker/daemon";
import { MemoryInbox } from "../../lib/worker/inbox";
import { uniqueName } from "../helpers/aws";
import { roundHarness } from "../helpers/round";

const TASK = join(__dirname, "..", "fixtures", "tasks", "demo_bistro_task.sh");
const GRACE_MS = 3000;
const discard: LogSink = {
  append: () => Promise.resolve(),
  appendLines: () => undefined,
  flush: () => Promise.resolve(),
  close: () => Promise.resolve(),
};

async function until<T>(check: () => Promise<T | undefined> | T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("a start order that arrives after the worker's list left it out past the grace", () => {
  it("is refused by the worker, so the attempt the round ended never runs", async () => {
    const h = await roundHarness();
    h.deps.unknownAttemptGraceMs = GRACE_MS;
    const inbox = new MemoryInbox();
    const events: WorkerEvent[] = [];
    const { QueueUrl: statusQueueUrl } = await h.store.aws.sqs.send(
      new CreateQueueCommand({ QueueName: uniqueName("slow-status") }),
    );
    // The worker's clock is the scheduler's (a test clock): its lists are made at the times the test sets.
    const worker = await startWorker(
      {
        controlPlane: new InProcessControlPlane({
          store: h.store,
          sqs: h.store.aws.sqs,
          queuePrefix: uniqueName("slow"),
          statusQueueUrl: statusQueueUrl!,
          clock: h.now,
        }),
        sqs: h.store.aws.sqs,
        inbox: () => inbox,
        logs: discard,
        clock: h.now,
        onEvent: (event) => events.push(event),
      },
      {
        id: "w1",
        command: TASK,
        dataDir: mkdtempSync(join(tmpdir(), "sous-slow-order-")),
        heartbeatPeriodSec: 1,
        receiveWaitSec: 1,
      },
    );
    try {
      await h.setConfig({
        bistro_settings: {
          enabled: true,
          backoff: [1, "repeat"],
          nodes: { levels: ["host"], node_sources: [{ source: "manual", prefs: { h1: [] } }] },
          resources: { host: { slots: { limit: 1, default: 1 } } },
        },
        "bistro_job->sync": { owner: "test" },
      });
      const first = await h.round();
      expect(first.started).toHaveLength(1);
      const attempt = first.started[0]!.attempt;
      // The order sits in the worker's SQS queue; the worker reads only its (empty) memory inbox.
      const { Messages = [] } = await h.store.aws.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: worker.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      expect(Messages).toHaveLength(1);

      // Past the grace, a heartbeat lists what the worker runs: nothing.
      h.advance(GRACE_MS);
      const listedAt = h.now();
      await until(async () => {
        const record = await getWorker(h.store, "w1");
        return (record?.runningListedAtMs ?? 0) >= listedAt ? record : undefined;
      }, "a heartbeat list made past the grace");
      const second = await h.round();
      expect(second.unknownAttempts.map((a) => a.attempt)).toEqual([attempt]);
      expect((await readCounters(h.store)).get("node#h1")?.get("slots")).toBe(0);

      // Now the slow order arrives: the worker refuses it instead of running the ended attempt.
      inbox.push(Messages[0]!.Body!);
      const answer = await until(
        () => events.find((e) => e.type === "start_refused" || e.type === "task_started"),
        "the worker's decision on the late order",
      );
      expect(answer).toMatchObject({ type: "start_refused", attempt });
      expect(events.filter((e) => e.type === "task_started")).toEqual([]);
      const [item] = await readJobTasks(h.store, "sync");
      expect(item?.running).toBeUndefined();
    } finally {
      await worker.stop({ graceful: false });
      h.destroy();
    }
  });
});
