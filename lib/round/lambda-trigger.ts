// The round trigger on AWS: an asynchronous invoke of the round function (poke.ts has the rest
// of the poke). Its own module, so only the code that pokes loads the SDK's Lambda package.
import { InvokeCommand, type LambdaClient } from "@aws-sdk/client-lambda";
import { POKE_EVENT, type RoundTrigger } from "./poke";

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
