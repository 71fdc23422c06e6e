// Batched DynamoDB writes with retries of unprocessed items, shared by the store modules.
import { BatchWriteCommand, type BatchWriteCommandInput, type BatchWriteCommandOutput } from "@aws-sdk/lib-dynamodb";
import type { StoreContext } from "./context";

export type WriteRequest = NonNullable<BatchWriteCommandInput["RequestItems"]>[string][number];

const BATCH_WRITE_LIMIT = 25;

/** Writes all requests, 25 per call, retrying unprocessed items with exponential backoff. */
export async function batchWrite(ctx: StoreContext, requests: readonly WriteRequest[]): Promise<void> {
  for (let i = 0; i < requests.length; i += BATCH_WRITE_LIMIT) {
    let pending: WriteRequest[] | undefined = requests.slice(i, i + BATCH_WRITE_LIMIT);
    for (let attempt = 0; pending && pending.length > 0; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** attempt)));
      const result: BatchWriteCommandOutput = await ctx.doc.send(
        new BatchWriteCommand({ RequestItems: { [ctx.tableName]: pending } }),
      );
      pending = result.UnprocessedItems?.[ctx.tableName];
    }
  }
}
