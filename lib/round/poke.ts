// Pokes: asking for a scheduling round now instead of at the next timer tick. The wanted mark
// is set first, so a round that is running sees it before it releases the lease and runs
// again; then a trigger starts a round in case none is running (Lambda async invoke on AWS,
// an in-process call in `sous local`).
import { InvokeCommand, type LambdaClient } from "@aws-sdk/client-lambda";
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

/** Triggers the round Lambda asynchronously; with reserved concurrency 1, extra invokes queue. */
export function lambdaRoundTrigger(lambda: LambdaClient, functionName: string): RoundTrigger {
  return async () => {
    await lambda.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: "Event",
        Payload: new TextEncoder().encode(JSON.stringify(POKE_EVENT)),
      }),
    );
  };
}
