import {
  backoffDelayMs,
  retryOnError,
  retryRemaining,
  retryUntil,
  type RetryEnv,
  type RetryPolicy,
} from "../../lib/retry";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { sendBatched } from "../../lib/dispatch/sqs";
import { batchWrite } from "../../lib/store/batch";
import type { StoreContext } from "../../lib/store/context";

const POLICY: RetryPolicy = { attempts: 4, baseMs: 100, capMs: 300 };

/** Records every wait instead of sleeping; randomness fixed to `r`. */
function fakeEnv(r = 0.5): RetryEnv & { waits: number[] } {
  const waits: number[] = [];
  return { waits, random: () => r, sleep: (ms) => (waits.push(ms), Promise.resolve()) };
}

describe("backoffDelayMs", () => {
  it("is full jitter under base · 2^(retry-1), capped", () => {
    expect([1, 2, 3, 4, 10].map((n) => backoffDelayMs(n, POLICY, () => 0.999999))).toEqual([99, 199, 299, 299, 299]);
    expect(backoffDelayMs(3, POLICY, () => 0.5)).toBe(150);
    expect(backoffDelayMs(5, POLICY, () => 0)).toBe(0);
  });

  it("never exceeds the cap, even at huge retry numbers", () => {
    expect(backoffDelayMs(5000, POLICY, () => 0.999999)).toBeLessThan(POLICY.capMs);
  });
});

describe("retryOnError", () => {
  it("retries retryable errors with backoff and returns the first success", async () => {
    const env = fakeEnv();
    let calls = 0;
    const value = await retryOnError(
      (attempt) => {
        calls++;
        return attempt < 3 ? Promise.reject(new Error("busy")) : Promise.resolve("ok");
      },
      (e) => (e as Error).message === "busy",
      POLICY,
      env,
    );
    expect(value).toBe("ok");
    expect(calls).toBe(3);
    expect(env.waits).toEqual([50, 100]);
  });

  it("throws a non-retryable error at once", async () => {
    const env = fakeEnv();
    const run = jest.fn(() => Promise.reject(new Error("bad")));
    await expect(retryOnError(run, () => false, POLICY, env)).rejects.toThrow("bad");
    expect(run).toHaveBeenCalledTimes(1);
    expect(env.waits).toEqual([]);
  });

  it("throws the last error once attempts run out", async () => {
    const env = fakeEnv();
    let n = 0;
    await expect(
      retryOnError(
        () => Promise.reject(new Error(`e${++n}`)),
        () => true,
        POLICY,
        env,
      ),
    ).rejects.toThrow("e4");
    expect(env.waits).toHaveLength(3);
  });
});

describe("retryRemaining", () => {
  it("sends only what was left over, until nothing is", async () => {
    const env = fakeEnv();
    const sent: number[][] = [];
    const left = await retryRemaining(
      [1, 2, 3, 4],
      (pending) => {
        sent.push([...pending]);
        return Promise.resolve(pending.slice(2));
      },
      POLICY,
      env,
    );
    expect(left).toEqual([]);
    expect(sent).toEqual([
      [1, 2, 3, 4],
      [3, 4],
    ]);
    expect(env.waits).toEqual([50]);
  });

  it("returns what is still left after the last attempt", async () => {
    const env = fakeEnv();
    const send = jest.fn((pending: readonly string[]) => Promise.resolve(pending));
    expect(await retryRemaining(["a"], send, POLICY, env)).toEqual(["a"]);
    expect(send).toHaveBeenCalledTimes(POLICY.attempts);
  });

  it("does not call send for nothing", async () => {
    const send = jest.fn(() => Promise.resolve([]));
    expect(await retryRemaining([], send, POLICY, fakeEnv())).toEqual([]);
    expect(send).not.toHaveBeenCalled();
  });
});

describe("retryUntil", () => {
  it("polls until done, without limit when attempts is Infinity", async () => {
    const env = fakeEnv(0.999999);
    let n = 0;
    expect(await retryUntil(() => Promise.resolve(++n === 10), { ...POLICY, attempts: Infinity }, env)).toBe(true);
    expect(env.waits).toHaveLength(9);
    expect(Math.max(...env.waits)).toBe(299);
  });

  it("is false when attempts run out", async () => {
    expect(await retryUntil(() => Promise.resolve(false), POLICY, fakeEnv())).toBe(false);
  });
});

describe("the callers", () => {
  it("batchWrite retries unprocessed items and throws when some never go through", async () => {
    const calls: number[] = [];
    const doc = {
      send: (command: { input: { RequestItems: Record<string, unknown[]> } }) => {
        const pending = command.input.RequestItems.t ?? [];
        calls.push(pending.length);
        return Promise.resolve({ UnprocessedItems: { t: pending.slice(1) } });
      },
    };
    const ctx = { doc, tableName: "t" } as unknown as StoreContext;
    const put = (n: number) => ({ PutRequest: { Item: { pk: `p${n}`, sk: "s" } } });
    await batchWrite(ctx, [put(1), put(2), put(3)], fakeEnv());
    expect(calls).toEqual([3, 2, 1]);
    const stuck = { send: () => Promise.resolve({ UnprocessedItems: { t: [put(1)] } }) };
    await expect(
      batchWrite({ doc: stuck, tableName: "t" } as unknown as StoreContext, [put(1)], fakeEnv()),
    ).rejects.toThrow(/1 writes were still unprocessed after 16 attempts/);
  });

  it("sendBatched retries server-side failures only and reports what never went", async () => {
    const sqs = {
      send: (command: { input: { Entries: { Id: string }[] } }) =>
        Promise.resolve({
          Failed: command.input.Entries.filter((e) => e.Id !== "0").map((e) => ({
            Id: e.Id,
            SenderFault: e.Id === "1",
            Message: e.Id === "1" ? "too big" : "throttled",
          })),
        }),
    } as unknown as SQSClient;
    const result = await sendBatched(sqs, "q", ["ok", "bad", "slow"], fakeEnv());
    expect(result.requests).toBe(5);
    expect(result.failed).toEqual([
      { body: "bad", error: "too big" },
      { body: "slow", error: "throttled" },
    ]);
  });
});
