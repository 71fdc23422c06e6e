// Reconciliation (lib/round/reconcile.ts) and the worker's admission (lib/worker/admission.ts)
// together: whatever the timing of a slow start order against the worker's heartbeat lists, the
// scheduler never ends an attempt as unknown that the worker then runs. Under load a round took
// seconds between reading and sending, and the worker received an order after making a list past
// the grace: the round ended the attempt and freed its resources while the worker still ran it.
import fc from "fast-check";

import { unknownAttemptFinishes } from "../../lib/round/reconcile";
import type { TaskItem } from "../../lib/store/tasks";
import type { WorkerRecord } from "../../lib/store/workers";
import { admitStart } from "../../lib/worker/admission";

const GRACE_MS = 3000;

function item(startedAtMs: number): TaskItem {
  return {
    job: "j",
    node: "n",
    state: "running",
    version: 1,
    running: {
      attempt: "r1.0",
      worker: "w1",
      workerInstance: "i1",
      startedAtMs,
      round: 1,
      charges: [],
      nextBackoff: { seconds: 1, noMoreBackoffs: false },
    },
  };
}

function worker(attempts: string[], listedAtMs: number): WorkerRecord {
  return {
    id: "w1",
    hostname: "h",
    instanceId: "i1",
    queueUrl: "q",
    resources: {},
    heartbeatPeriodSec: 1,
    registeredAtMs: 0,
    heartbeatAtMs: listedAtMs,
    runningAttempts: attempts,
    runningListedAtMs: listedAtMs,
  };
}

describe("a slow start order against the worker's heartbeat lists", () => {
  it("is never both ended by the round and run by the worker", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 20_000 }), // when the round committed the start (and counts it sent)
        fc.integer({ min: 0, max: 20_000 }), // how long the order took to reach the worker
        fc.uniqueArray(fc.integer({ min: 0, max: 60_000 }), { minLength: 1, maxLength: 6 }), // lists made
        fc.nat(2000), // how much earlier the control plane's clock records a list
        fc.nat(5), // which list the round reads (heartbeats may be recorded out of order)
        (committedAtMs, delayMs, madeAt, earlierMs, pick) => {
          const lists = [...madeAt].sort((a, b) => a - b);
          const receivedAtMs = committedAtMs + delayMs;
          // What the round puts in the order (run-round.ts): the commit time plus the grace.
          const order = {
            job: "j",
            node: "n",
            attempt: "r1.0",
            workerInstance: "i1",
            listDeadlineMs: committedAtMs + GRACE_MS,
          };
          const listedBefore = lists.filter((at) => at < receivedAtMs);
          const admission = admitStart(order, undefined, {
            accepting: true,
            instanceId: "i1",
            registeredAtMs: 0,
            knownAttempts: new Set<string>(),
            runningAttemptOf: () => undefined,
            lastListMadeAtMs: listedBefore.length > 0 ? Math.max(...listedBefore) : undefined,
          });
          const runs = admission.decision === "run";
          // The list the round reads: it names the attempt if the worker ran it before making the list.
          const madeAtMs = lists[pick % lists.length]!;
          const named = runs && madeAtMs >= receivedAtMs ? ["r1.0"] : [];
          const ended = unknownAttemptFinishes({
            items: [item(committedAtMs)],
            workersById: new Map([["w1", worker(named, madeAtMs - earlierMs)]]),
            dispatchedThroughRound: 1,
            lastResendAtMs: 0,
            graceMs: GRACE_MS,
            nowSec: 100,
          });
          expect(runs && ended.length > 0).toBe(false);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
