// Fault injectors shared by the fault suite (test/faults/) and the soak (bench/soak.ts): each
// reproduces one fault the scheduler must survive, given the randomness (or the decision) to use.
import type { SendResult } from "../../lib/dispatch/sqs";

type Send = (queueUrl: string, bodies: string[]) => Promise<SendResult>;

/** The error a round sees when it "crashes" between its commit and its dispatch. */
export class InjectedCrash extends Error {
  override readonly name = "InjectedCrash";
}

const carriesStart = (bodies: readonly string[]) => bodies.some((b) => b.includes('"type":"start"'));

/**
 * A send that throws (the round crashes) before the start orders of a committed round go out,
 * whenever `crashNow()` says so; other sends go through `send`.
 */
export function crashBetweenCommitAndDispatch(send: Send, crashNow: () => boolean): Send {
  return (queueUrl, bodies) => {
    if (carriesStart(bodies) && crashNow()) {
      return Promise.reject(new InjectedCrash("injected crash between commit and dispatch"));
    }
    return send(queueUrl, bodies);
  };
}

/**
 * A status storm over one received batch: some bodies again, some bodies delivered long ago again,
 * all in a shuffled order. `rng` is a [0, 1) source (Math.random, or a seeded one in tests).
 */
export function statusStorm(bodies: readonly string[], delivered: readonly string[], rng: () => number): string[] {
  const again = [...bodies.filter(() => rng() < 0.6), ...delivered.filter(() => rng() < 0.05)];
  return shuffle([...bodies, ...again], rng);
}

/** Fisher-Yates with `rng`. */
export function shuffle<T>(items: readonly T[], rng: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
