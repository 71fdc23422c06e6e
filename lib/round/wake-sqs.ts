// The wake-up sender on SQS (wake.ts has the message and its timing): its own module, so only
// the code that sends wake-ups loads the SDK's SQS package.
import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { RoundWaker, WakeMessage } from "./wake";

/** The wake-up as a delayed message on the queue that status ingestion reads. */
export function sqsRoundWaker(sqs: SQSClient, queueUrl: string): RoundWaker {
  return async (atMs, delaySec) => {
    const message: WakeMessage = { type: "wake", atMs };
    await sqs.send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(message), DelaySeconds: delaySec }),
    );
  };
}
