// Pokes: asking for a scheduling round now instead of at the next timer tick. The wanted mark
// is set first, so a round that is running sees it before it releases the lease and runs
// again; then a trigger starts a round in case none is running (Lambda async invoke on AWS,
// an in-process call in `sous local`).
// The Lambda trigger lives in lambda-trigger.ts, so a bundle loads the SDK's Lambda package only where it pokes.
import type { StoreContext } from "../store/context";
import { markRoundWanted } from "../store/lease";

/** Starts a round somewhere without waiting for it to finish. */
export type RoundTrigger = () => Promise<void>;

/** The event a poke sends to the round function (EventBridge's schedule sends its own). */
export const POKE_EVENT = { source: "sous.poke" } as const;

export async function requestRound(store: StoreContext, trigger: RoundTrigger): Promise<void> {
  await markRoundWanted(store);
  await trigger();
}
