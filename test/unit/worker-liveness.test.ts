// The worker's liveness (lib/worker/liveness.ts) on Jest's fake clock: a heartbeat every period,
// giving up on a refused heartbeat or after the self-deadline of silence, once, and nothing after
// `stop`. Times are the fake clock's, never the wall clock's.
import type { HeartbeatAnswer } from "../../lib/worker/control-plane";
import { Liveness, type GiveUpReason, type LivenessEvent } from "../../lib/worker/liveness";

beforeEach(() => {
  jest.useFakeTimers({ now: 0 });
});
afterEach(() => {
  jest.useRealTimers();
});

function setup(answer: () => Promise<HeartbeatAnswer>) {
  const events: LivenessEvent[] = [];
  const gaveUp: { reason: GiveUpReason; detail: string; atMs: number }[] = [];
  const sent: number[] = [];
  const liveness = new Liveness(
    {
      heartbeat: () => {
        sent.push(Date.now());
        return answer();
      },
      clock: Date.now,
      emit: (event) => events.push(event),
      onGiveUp: (reason, detail) => gaveUp.push({ reason, detail, atMs: Date.now() }),
    },
    { heartbeatPeriodMs: 1000, suicideAfterMs: 3500, registeredAtMs: 0 },
  );
  return { liveness, events, gaveUp, sent };
}

describe("Liveness", () => {
  it("sends a heartbeat every period and keeps the last acknowledged send time", async () => {
    const { liveness, sent, gaveUp } = setup(() => Promise.resolve({ ok: true }));
    liveness.start();
    await jest.advanceTimersByTimeAsync(10_000);
    expect(sent).toEqual([1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10_000]);
    expect(liveness.lastAckSentAtMs).toBe(10_000);
    expect(gaveUp).toEqual([]);
    liveness.stop();
  });

  it("gives up once when a heartbeat is refused, and sends no more", async () => {
    let calls = 0;
    const { liveness, gaveUp, sent, events } = setup(() =>
      Promise.resolve(++calls < 3 ? { ok: true } : { ok: false, reason: "replaced" }),
    );
    liveness.start();
    await jest.advanceTimersByTimeAsync(10_000);
    expect(gaveUp).toEqual([{ reason: "rejected", detail: "replaced", atMs: 3000 }]);
    expect(sent).toHaveLength(3);
    expect(events.at(-1)).toMatchObject({ type: "heartbeat", ok: false, reason: "replaced" });
  });

  it("gives up after the self-deadline of silence, measured from the last acknowledged send", async () => {
    let calls = 0;
    const { liveness, gaveUp, events } = setup(() =>
      ++calls <= 2 ? Promise.resolve({ ok: true }) : Promise.reject(new Error("unreachable")),
    );
    liveness.start();
    await jest.advanceTimersByTimeAsync(20_000);
    expect(liveness.lastAckSentAtMs).toBe(2000);
    expect(gaveUp).toEqual([{ reason: "silence", detail: expect.stringContaining("3500 ms") as string, atMs: 5500 }]);
    expect(events.filter((e) => e.type === "heartbeat_error").length).toBeGreaterThan(0);
  });

  it("treats a heartbeat that never answers as silence", async () => {
    const { liveness, gaveUp } = setup(() => new Promise<HeartbeatAnswer>(() => undefined));
    liveness.start();
    await jest.advanceTimersByTimeAsync(20_000);
    expect(gaveUp.map((g) => [g.reason, g.atMs])).toEqual([["silence", 3500]]);
  });

  it("after stop, neither heartbeats nor gives up, and ignores an answer in flight", async () => {
    let answer: (a: HeartbeatAnswer) => void = () => undefined;
    const { liveness, gaveUp, sent, events } = setup(() => new Promise((resolve) => (answer = resolve)));
    liveness.start();
    await jest.advanceTimersByTimeAsync(1000);
    expect(sent).toEqual([1000]);
    liveness.stop();
    answer({ ok: false, reason: "late" });
    await jest.advanceTimersByTimeAsync(20_000);
    expect(sent).toEqual([1000]);
    expect(gaveUp).toEqual([]);
    expect(events).toEqual([]);
  });
});
