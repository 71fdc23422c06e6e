// The worker's self-deadline (lib/worker/lost-safety.ts) against the scheduler's rule
// (`workerState` in lib/scheduler/worker-health.ts): a worker that gives up when it says it will has
// killed its tasks before any scheduler reading of its record can say must_die.
import fc from "fast-check";

import { BISTRO_WORKER_TIMINGS, workerState, workerSuicideAfterSec } from "../../lib/scheduler/worker-health";
import type { WorkerRecord } from "../../lib/store/workers";
import { selfDeadlines, UnsafeTimingsError } from "../../lib/worker/lost-safety";

function record(heartbeatAtMs: number, heartbeatPeriodSec: number): WorkerRecord {
  return {
    id: "w",
    hostname: "h",
    instanceId: "i",
    queueUrl: "q",
    resources: {},
    heartbeatPeriodSec,
    registeredAtMs: 0,
    heartbeatAtMs,
  };
}

describe("selfDeadlines", () => {
  it("with Bistro's defaults, gives up after 495 s of silence (lose_unhealthy_worker_after - worker_check_interval)", () => {
    expect(selfDeadlines(BISTRO_WORKER_TIMINGS, 15, 5000)).toEqual({
      suicideAfterMs: 495_000,
      mustDieAfterMs: 575_000,
    });
  });

  it("finishes killing (kill wait plus one check interval) before the scheduler may call the worker lost", () => {
    fc.assert(
      fc.property(
        fc.record({
          heartbeatPeriodSec: fc.integer({ min: 1, max: 120 }),
          heartbeatGraceSec: fc.integer({ min: 0, max: 300 }),
          loseUnhealthyAfterSec: fc.integer({ min: 1, max: 3000 }),
          workerCheckIntervalSec: fc.integer({ min: 1, max: 60 }),
        }),
        fc.integer({ min: 1, max: 120 }),
        fc.integer({ min: 0, max: 120_000 }),
        fc.integer({ min: 0, max: 2_000_000_000_000 }),
        fc.integer({ min: 0, max: 60_000 }),
        (timings, periodSec, killWaitMs, lastAckSentAtMs, recordedLaterByMs) => {
          let deadlines: ReturnType<typeof selfDeadlines>;
          try {
            deadlines = selfDeadlines(timings, periodSec, killWaitMs);
          } catch (error) {
            expect(error).toBeInstanceOf(UnsafeTimingsError);
            return;
          }
          expect(deadlines.suicideAfterMs).toBeGreaterThan(periodSec * 1000);
          expect(deadlines.suicideAfterMs).toBeLessThanOrEqual(workerSuicideAfterSec(timings) * 1000);
          // The scheduler stamps the heartbeat when it records it: never before the worker sent it.
          const stored = record(lastAckSentAtMs + recordedLaterByMs, periodSec);
          const allKilledAtMs =
            lastAckSentAtMs + deadlines.suicideAfterMs + killWaitMs + timings.workerCheckIntervalSec * 1000;
          expect(workerState(stored, allKilledAtMs, timings)).not.toBe("must_die");
          // And the scheduler's deadline is the one stated: one millisecond later it is must_die.
          const mustDieAtMs = stored.heartbeatAtMs + deadlines.mustDieAfterMs;
          expect(workerState(stored, mustDieAtMs, timings)).not.toBe("must_die");
          expect(workerState(stored, mustDieAtMs + 1, timings)).toBe("must_die");
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("refuses timings that would make a worker give up between two regular heartbeats", () => {
    expect(() => selfDeadlines({ ...BISTRO_WORKER_TIMINGS, loseUnhealthyAfterSec: 15 }, 15, 5000)).toThrow(
      UnsafeTimingsError,
    );
    expect(() => selfDeadlines(BISTRO_WORKER_TIMINGS, 15, 600_000)).toThrow(/kill wait of 600000 ms/);
    expect(() => selfDeadlines({ ...BISTRO_WORKER_TIMINGS, workerCheckIntervalSec: 0 }, 15, 5000)).toThrow(
      /worker_check_interval/,
    );
  });

  it("shortens the silence when the kill wait would not fit before the scheduler's deadline", () => {
    // grace 1 + period 1 + lose 4 = 6 s; 6 s - 2.5 s kill wait - 1 s margin = 2.5 s < lose - check = 3 s.
    const timings = {
      heartbeatPeriodSec: 1,
      heartbeatGraceSec: 1,
      loseUnhealthyAfterSec: 4,
      workerCheckIntervalSec: 1,
    };
    expect(selfDeadlines(timings, 1, 2500).suicideAfterMs).toBe(2500);
    expect(selfDeadlines(timings, 1, 500).suicideAfterMs).toBe(3000);
  });
});
