// A scheduler deployment on the emulators for round tests: a state table, worker queues
// registered as workers, a status source, a controllable clock and seeded randomness.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CreateQueueCommand, DeleteMessageBatchCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { parseMessage, workerMessageSchema, type TaskEnd, type WorkerMessage } from "../../lib/dispatch/messages";
import { hashSecret } from "../../lib/dispatch/tokens";
import { applyStatuses } from "../../lib/round/apply-statuses";
import { emptyRoundReport, runRounds, type RoundDeps, type RoundReport } from "../../lib/round/run-round";
import { putConfig, getCurrentConfigVersion } from "../../lib/store/config-store";
import { getTasks } from "../../lib/store/tasks";
import { readAttemptTokens } from "../../lib/store/dispatch-key";
import { listWorkers, recordHeartbeat, registerWorker } from "../../lib/store/workers";
import { uniqueName } from "./aws";
import { freshStore } from "./store";

export function bistroFixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(__dirname, "..", "..", "events", "bistro", name), "utf8")) as Record<
    string,
    unknown
  >;
}

/** A deterministic generator (mulberry32) so failures replay. */
export function seededRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What `round()` returns when the round stopped early as idle. */
const IDLE_REPORT: RoundReport = emptyRoundReport(0, 0);

export async function roundHarness(seed = 1) {
  const store = await freshStore();
  let nowMs = Date.UTC(2026, 10, 23, 12, 0, 0);
  const queues = new Map<string, string>();
  const deps: RoundDeps = {
    store,
    sqs: store.aws.sqs,
    clock: () => nowMs,
    rng: seededRng(seed),
    owner: "round-test",
    instanceName: "scheduler",
  };
  const harness = {
    store,
    deps,
    advance(ms: number) {
      nowMs += ms;
    },
    now: () => nowMs,
    async setConfig(document: Record<string, unknown>) {
      await putConfig(store, document, await getCurrentConfigVersion(store), nowMs);
    },
    async addWorker(id: string, resources: Record<string, number> = {}, hostname = id, instance = 1) {
      const { QueueUrl } = await store.aws.sqs.send(new CreateQueueCommand({ QueueName: uniqueName(`w-${id}`) }));
      queues.set(id, QueueUrl!);
      return registerWorker(
        store,
        {
          id,
          hostname,
          instanceId: `${id}-${instance}`,
          queueUrl: QueueUrl!,
          resources,
          heartbeatPeriodSec: 15,
          registeredAtMs: nowMs,
          heartbeatAtMs: nowMs,
          secretHash: hashSecret(workerSecret(id)),
        },
        nowMs - 575_000,
      );
    },
    /** A heartbeat from every worker but the silent ones. */
    async heartbeat(...silent: string[]) {
      for (const worker of await listWorkers(store)) {
        if (!silent.includes(worker.id)) {
          await recordHeartbeat(store, worker.id, worker.instanceId, worker.secretHash ?? "", nowMs);
        }
      }
    },
    /** Drains a worker's queue: the orders sent to it so far. */
    async orders(worker: string): Promise<WorkerMessage[]> {
      const out: WorkerMessage[] = [];
      for (;;) {
        const { Messages } = await store.aws.sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queues.get(worker), MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
        );
        if (!Messages?.length) return out;
        for (const m of Messages) {
          const parsed = parseMessage(workerMessageSchema, m.Body ?? "");
          if (!parsed.ok) throw new Error(parsed.error);
          out.push(parsed.value);
        }
        await store.aws.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queues.get(worker),
            Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
          }),
        );
      }
    },
    /** Runs a round; an idle one (nothing changed, no timer due: ADR 0003) reports `idle` and nothing else. */
    async round(): Promise<RoundReport & { idle?: true }> {
      const log = deps.log;
      const seen = { idle: false };
      deps.log = (event) => {
        if (event.event === "round-idle") seen.idle = true;
        log?.(event);
      };
      const reports = await runRounds(deps, 1).finally(() => {
        if (log) deps.log = log;
        else delete deps.log;
      });
      if (seen.idle) return { ...IDLE_REPORT, idle: true };
      if (reports.length !== 1) throw new Error("the round did not run (lease held?)");
      return reports[0]!;
    },
    /**
     * Delivers task ends, sent by the worker that runs each attempt (unless `worker` says otherwise),
     * with the attempt's token as its start order carried it (unless `token` is given, even undefined).
     */
    async finish(ends: (Partial<TaskEnd> & { job: string; node: string; attempt: string })[]) {
      const items = await getTasks(store, ends);
      const tokenOf = await readAttemptTokens(store);
      const workerOf = (e: { job: string; node: string }) =>
        items.find((t) => t.job === e.job && t.node === e.node)?.running?.worker ?? "unknown-worker";
      const body = JSON.stringify({
        ends: ends.map((e) => ({
          worker: workerOf(e),
          killed: false,
          exitCode: 0,
          signal: null,
          endedAtMs: nowMs,
          ...("token" in e ? {} : { token: tokenOf(e) }),
          ...e,
        })),
      });
      return applyStatuses({ store, clock: () => nowMs }, [{ id: "m1", body }]);
    },
    destroy: () => {
      store.destroy();
    },
  };
  return harness;
}

/** The heartbeat secret `roundHarness().addWorker(id)` registers `id` with. */
export const workerSecret = (id: string) => `secret-of-${id}`;
