// Task items read by key, in BatchGetItem calls of 100 with unprocessed keys retried.
import { taskId } from "../../model/task";
import { BatchGetCommand, type BatchGetCommandOutput } from "@aws-sdk/lib-dynamodb";
import { retryRemaining, UNPROCESSED_ITEMS_RETRY } from "../../retry";
import type { StoreContext } from "../context";
import { taskKey } from "../keys";
import { toTaskItem, type TaskItem } from "./types";

/** Task items by key (missing ones are left out; repeated keys read once), consistent reads, 100 per call. */
export async function getTasks(
  ctx: StoreContext,
  wanted: readonly { job: string; node: string }[],
): Promise<TaskItem[]> {
  const keys = [...new Map(wanted.map((k) => [taskId(k.job, k.node), k])).values()];
  const found: TaskItem[] = [];
  for (let i = 0; i < keys.length; i += 100) {
    const left = await retryRemaining(
      keys.slice(i, i + 100).map((k): Record<string, unknown> => taskKey(k.job, k.node)),
      async (pending) => {
        const result: BatchGetCommandOutput = await ctx.doc.send(
          new BatchGetCommand({ RequestItems: { [ctx.tableName]: { Keys: [...pending], ConsistentRead: true } } }),
        );
        for (const item of result.Responses?.[ctx.tableName] ?? []) found.push(toTaskItem(item));
        return result.UnprocessedKeys?.[ctx.tableName]?.Keys ?? [];
      },
      UNPROCESSED_ITEMS_RETRY,
    );
    if (left.length > 0) {
      throw new Error(
        `${left.length} task reads were still unprocessed after ${UNPROCESSED_ITEMS_RETRY.attempts} attempts (table throttled).`,
      );
    }
  }
  return found;
}
