// Batched DynamoDB writes with retries of unprocessed items, shared by the store modules.
import { BatchWriteCommand, type BatchWriteCommandInput } from "@aws-sdk/lib-dynamodb";
import { REAL_RETRY_ENV, retryRemaining, UNPROCESSED_ITEMS_RETRY, type RetryEnv } from "../retry";
import type { StoreContext } from "./context";

export type WriteRequest = NonNullable<BatchWriteCommandInput["RequestItems"]>[string][number];

const BATCH_WRITE_LIMIT = 25;

/**
 * Writes all requests, 25 per call, retrying unprocessed items with backoff (lib/retry.ts).
 * Throws when some are still unprocessed after the last attempt (a table throttled for long).
 */
export async function batchWrite(
  ctx: StoreContext,
  requests: readonly WriteRequest[],
  env: RetryEnv = REAL_RETRY_ENV,
): Promise<void> {
  for (let i = 0; i < requests.length; i += BATCH_WRITE_LIMIT) {
    const left = await retryRemaining(
      requests.slice(i, i + BATCH_WRITE_LIMIT),
      async (pending) => {
        const result = await ctx.doc.send(new BatchWriteCommand({ RequestItems: { [ctx.tableName]: [...pending] } }));
        return result.UnprocessedItems?.[ctx.tableName] ?? [];
      },
      UNPROCESSED_ITEMS_RETRY,
      env,
    );
    if (left.length > 0) {
      throw new Error(
        `${left.length} writes were still unprocessed after ${UNPROCESSED_ITEMS_RETRY.attempts} attempts (table throttled).`,
      );
    }
  }
}
