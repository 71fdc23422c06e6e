// Sending a round's orders: bodies grouped per worker queue, sent in batches, failures counted
// (a round whose orders did not all go out is not marked dispatched, and the next one re-sends).
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { KillMessage, StartMessage } from "../dispatch/messages";
import { sendBatched, type SendResult } from "../dispatch/sqs";

export async function sendAll(
  deps: { sqs: SQSClient; send?: (queueUrl: string, bodies: string[]) => Promise<SendResult> },
  queues: Map<string, string[]>,
): Promise<{ failed: number }> {
  const send = deps.send ?? ((queueUrl: string, bodies: string[]) => sendBatched(deps.sqs, queueUrl, bodies));
  let failed = 0;
  await Promise.all(
    [...queues].map(async ([queueUrl, bodies]) => {
      const result = await send(queueUrl, bodies);
      failed += result.failed.length;
    }),
  );
  return { failed };
}

export function addBody(queues: Map<string, string[]>, queueUrl: string, message: StartMessage | KillMessage): void {
  const bodies = queues.get(queueUrl) ?? [];
  bodies.push(JSON.stringify(message));
  queues.set(queueUrl, bodies);
}
