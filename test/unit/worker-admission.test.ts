// Which start orders a worker accepts (lib/worker/admission.ts): duplicates are ignored; orders for
// another instance, sent before this one registered, for a task already running here, arriving
// while the worker stops, or overtaken by a heartbeat list made past their deadline are refused;
// the rest run.
import fc from "fast-check";

import { admitStart, type AdmissionView } from "../../lib/worker/admission";

function view(overrides: Partial<AdmissionView> = {}): AdmissionView {
  return {
    accepting: true,
    instanceId: "inst-1",
    registeredAtMs: 1000,
    knownAttempts: new Set<string>(),
    runningAttemptOf: () => undefined,
    lastListMadeAtMs: undefined,
    ...overrides,
  };
}

const order = { job: "j", node: "n", attempt: "a1" };

describe("admitStart", () => {
  it("runs a new attempt for this instance", () => {
    expect(admitStart({ ...order, workerInstance: "inst-1" }, 2000, view())).toEqual({ decision: "run" });
    expect(admitStart(order, undefined, view())).toEqual({ decision: "run" });
    expect(admitStart(order, 1000, view())).toEqual({ decision: "run" });
  });

  it("ignores an attempt seen here before, even while stopping", () => {
    const known = view({ knownAttempts: new Set(["a1"]), accepting: false });
    expect(admitStart(order, 2000, known)).toEqual({
      decision: "ignore",
      reason: "duplicate: this attempt ran or was refused here",
    });
  });

  it("refuses while the worker is shutting down", () => {
    expect(admitStart(order, 2000, view({ accepting: false }))).toEqual({
      decision: "refuse",
      reason: "the worker is shutting down",
    });
  });

  it("refuses an order meant for another instance", () => {
    const admission = admitStart({ ...order, workerInstance: "inst-0" }, 2000, view());
    expect(admission).toEqual({ decision: "refuse", reason: expect.stringContaining("inst-0") as string });
  });

  it("refuses an order without an instance sent before this instance registered", () => {
    expect(admitStart(order, 999, view()).decision).toBe("refuse");
    // With the instance named, the send time does not matter.
    expect(admitStart({ ...order, workerInstance: "inst-1" }, 999, view()).decision).toBe("run");
  });

  it("refuses a second attempt of a task running here", () => {
    const admission = admitStart(
      order,
      2000,
      view({ runningAttemptOf: (j, n) => (j === "j" && n === "n" ? "a0" : undefined) }),
    );
    expect(admission).toEqual({ decision: "refuse", reason: "attempt a0 of the same task is running here" });
  });

  it("refuses an order that arrives after a list made past its deadline left it out", () => {
    const late = { ...order, listDeadlineMs: 5000 };
    expect(admitStart(late, 2000, view({ lastListMadeAtMs: 5000 }))).toEqual({
      decision: "refuse",
      reason: "arrived after a heartbeat made at 5000 left it out, past its listing deadline 5000",
    });
    // A list made before the deadline, or none at all, proves nothing: the order runs.
    expect(admitStart(late, 2000, view({ lastListMadeAtMs: 4999 })).decision).toBe("run");
    expect(admitStart(late, 2000, view()).decision).toBe("run");
    // An order without a deadline (from an older scheduler) runs as before.
    expect(admitStart(order, 2000, view({ lastListMadeAtMs: 9999 })).decision).toBe("run");
  });

  it("runs only when nothing speaks against it", () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.boolean(),
        fc.option(fc.constantFrom("inst-1", "inst-2"), { nil: undefined }),
        fc.option(fc.integer({ min: 0, max: 2000 }), { nil: undefined }),
        fc.option(fc.constant("a0"), { nil: undefined }),
        (accepting, known, workerInstance, sentAtMs, other) => {
          const admission = admitStart(
            { ...order, workerInstance },
            sentAtMs,
            view({ accepting, knownAttempts: new Set(known ? ["a1"] : []), runningAttemptOf: () => other }),
          );
          const stale = workerInstance === undefined && sentAtMs !== undefined && sentAtMs < 1000;
          const runs = accepting && !known && workerInstance !== "inst-2" && !stale && other === undefined;
          expect(admission.decision === "run").toBe(runs);
          if (known) expect(admission.decision).toBe("ignore");
        },
      ),
    );
  });
});
