// Seeding finished tasks in bulk (tests and benches of large states): done task items written
// with BatchWriteItem, the jobs added to the jobs-with-tasks set and the change sequence bumped,
// as the commit protocol would leave them. Rounds then read them exactly as they read any.
import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { StatusValues } from "../../lib/model/status";
import { batchWrite, type WriteRequest } from "../../lib/store/batch";
import { bumpChangeSequence } from "../../lib/store/change-sequence";
import type { StoreContext } from "../../lib/store/context";
import { JOBS_WITH_TASKS_KEY, taskKey } from "../../lib/store/keys";

/** Writes `nodes` as done tasks of `job`, `parallel` batch writers at a time. */
export async function seedFinishedTasks(
  ctx: StoreContext,
  job: string,
  nodes: readonly string[],
  nowSec: number,
  parallel = 8,
): Promise<void> {
  const requests: WriteRequest[] = nodes.map((node, i) => ({
    PutRequest: {
      Item: {
        ...taskKey(job, node),
        job,
        node,
        state: "done",
        version: 2,
        status: { bits: StatusValues.DONE, timeSec: nowSec, backoffSec: 0 },
        lastAttempt: `seed.${i}`,
      },
    },
  }));
  const slice = Math.ceil(requests.length / parallel);
  await Promise.all(
    Array.from({ length: parallel }, (_, p) => batchWrite(ctx, requests.slice(p * slice, (p + 1) * slice))),
  );
  await ctx.doc.send(
    new UpdateCommand({
      TableName: ctx.tableName,
      Key: JOBS_WITH_TASKS_KEY,
      UpdateExpression: "ADD #jobs :jobs",
      ExpressionAttributeNames: { "#jobs": "jobs" },
      ExpressionAttributeValues: { ":jobs": new Set([job]) },
    }),
  );
  await bumpChangeSequence(ctx);
}
