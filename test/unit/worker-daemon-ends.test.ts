// How the worker ships task ends (lib/worker/end-sender.ts): packed into status messages, batched
// within a window, and kept and retried until SQS accepts them. The sender is a fake; no AWS.
import fc from "fast-check";

import { parseMessage, statusMessageSchema, type TaskEnd } from "../../lib/dispatch/messages";
import type { SendResult } from "../../lib/dispatch/sqs";
import { END_BODY_BYTES, EndSender, packEnds, type SendBodies } from "../../lib/worker/end-sender";

function end(attempt: string, rawStatus = "done"): TaskEnd {
  return {
    job: "j",
    node: "n",
    attempt,
    worker: "w",
    rawStatus,
    killed: false,
    exitCode: 0,
    signal: null,
    endedAtMs: 1,
  };
}

function decode(body: string): TaskEnd[] {
  const parsed = parseMessage(statusMessageSchema, body);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value.ends;
}

/** A fake SQS sender: each call gets the next scripted outcome ("ok", "throw", or failing body indexes). */
function scriptedSender(script: ("ok" | "throw" | number[])[]) {
  const calls: string[][] = [];
  const send: SendBodies = (_url, bodies) => {
    calls.push([...bodies]);
    const outcome = script[calls.length - 1] ?? "ok";
    if (outcome === "throw") return Promise.reject(new Error("network down"));
    const failed = outcome === "ok" ? [] : outcome.map((i) => ({ body: bodies[i]!, error: "InternalError" }));
    return Promise.resolve<SendResult>({ requests: 1, failed });
  };
  return { calls, send, sent: () => calls.flatMap((bodies) => bodies.flatMap(decode)) };
}

describe("packEnds", () => {
  it("keeps every end, in order, in valid status messages of at most END_BODY_BYTES (an oversized end alone)", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.uuid(), fc.integer({ min: 0, max: 70_000 })), { maxLength: 40 }), (specs) => {
        const ends = specs.map(([attempt, size]) => end(attempt, "x".repeat(size)));
        const packed = packEnds(ends);
        expect(packed.flatMap((p) => decode(p.body))).toEqual(ends);
        expect(packed.flatMap((p) => p.ends)).toEqual(ends);
        for (const p of packed) {
          if (p.ends.length > 1) expect(Buffer.byteLength(p.body)).toBeLessThanOrEqual(END_BODY_BYTES);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("puts many small ends in one message", () => {
    const ends = Array.from({ length: 100 }, (_, i) => end(`a${i}`));
    expect(packEnds(ends)).toHaveLength(1);
  });
});

describe("EndSender", () => {
  it("sends ends that arrive within the window together, in one request", async () => {
    const sender = scriptedSender([]);
    const ends = new EndSender({ queueUrl: "q", send: sender.send, windowMs: 30 });
    ends.add(end("a1"));
    ends.add(end("a2"));
    ends.add(end("a3"));
    expect(await ends.drain(10_000)).toBe(true);
    expect(sender.calls).toHaveLength(1);
    expect(sender.calls[0]).toHaveLength(1);
    expect(sender.sent().map((e) => e.attempt)).toEqual(["a1", "a2", "a3"]);
  });

  it("keeps ends through failed sends and retries them until they are accepted, each sent once", async () => {
    const sender = scriptedSender(["throw", "throw", "ok"]);
    const failures: number[] = [];
    const ends = new EndSender({
      queueUrl: "q",
      send: sender.send,
      windowMs: 1,
      retryMinMs: 1,
      retryMaxMs: 5,
      onSendFailed: (f) => failures.push(f.consecutiveFailures),
    });
    ends.add(end("a1"));
    expect(await ends.drain(10_000)).toBe(true);
    expect(failures).toEqual([1, 2]);
    expect(sender.calls).toHaveLength(3);
    expect(decode(sender.calls[2]![0]!).map((e) => e.attempt)).toEqual(["a1"]);
    expect(ends.unsent()).toEqual([]);
  });

  it("retries only the messages SQS rejected", async () => {
    const sender = scriptedSender([[1], "ok"]);
    const ends = new EndSender({ queueUrl: "q", send: sender.send, windowMs: 1, retryMinMs: 1 });
    // 25 KB statuses: two ends per 60 KiB message, so four ends make two messages.
    for (const attempt of ["a1", "a2", "a3", "a4"]) ends.add(end(attempt, "s".repeat(25_000)));
    expect(await ends.drain(10_000)).toBe(true);
    expect(sender.calls.map((bodies) => bodies.map((b) => decode(b).map((e) => e.attempt)))).toEqual([
      [
        ["a1", "a2"],
        ["a3", "a4"],
      ],
      [["a3", "a4"]],
    ]);
  });

  it("reports what is still unsent when a drain times out, and sends nothing after stop", async () => {
    const sender = scriptedSender(Array.from({ length: 1000 }, () => "throw" as const));
    const ends = new EndSender({ queueUrl: "q", send: sender.send, windowMs: 1, retryMinMs: 1, retryMaxMs: 2 });
    ends.add(end("a1"));
    expect(await ends.drain(50)).toBe(false);
    ends.stop();
    const callsAtStop = sender.calls.length;
    expect(ends.unsent().map((e) => e.attempt)).toEqual(["a1"]);
    await new Promise((r) => setTimeout(r, 20));
    expect(sender.calls.length).toBeLessThanOrEqual(callsAtStop + 1); // at most the one already in flight
  });
});
