// Task items read by key, in BatchGetItem calls of 100 with unprocessed keys retried.
import { taskId } from "../../model/task";
import { BatchGetCommand, type BatchGetCommandOutput } from "@aws-sdk/lib-dynamodb";
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
    let pending: Record<string, unknown>[] | undefined = keys.slice(i, i + 100).map((k) => taskKey(k.job, k.node));
    for (let attempt = 0; pending && pending.length > 0; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** attempt)));
      const result: BatchGetCommandOutput = await ctx.doc.send(
        new BatchGetCommand({ RequestItems: { [ctx.tableName]: { Keys: pending, ConsistentRead: true } } }),
      );
      for (const item of result.Responses?.[ctx.tableName] ?? []) found.push(toTaskItem(item));
      pending = result.UnprocessedKeys?.[ctx.tableName]?.Keys;
    }
  }
  return found;
}
