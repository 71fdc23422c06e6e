// Seeding finished tasks in bulk (tests and benches of large states): done task items written
// with BatchWriteItem, the job's marker put (lib/store/tasks/job-markers.ts) and the items logged as change
// entries (a few thousand per entry), as the commit protocol would leave them. Rounds then read
// them exactly as they read any: in full when cold, through the entries when warm.
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { StatusValues } from "../../lib/model/status";
import { batchWrite, type WriteRequest } from "../../lib/store/batch";
import { transactWithSequence } from "../../lib/store/change-sequence";
import type { StoreContext } from "../../lib/store/context";
import { jobMarkerKey, taskKey } from "../../lib/store/keys";
import type { TaskChange, TaskItem } from "../../lib/store/tasks";

const SEED_ENTRY_TASKS = 1000;

/** Writes `nodes` as done tasks of `job`, `parallel` batch writers at a time. */
export async function seedFinishedTasks(
  ctx: StoreContext,
  job: string,
  nodes: readonly string[],
  nowSec: number,
  parallel = 8,
): Promise<void> {
  const items: TaskItem[] = nodes.map((node, i) => ({
    job,
    node,
    state: "done",
    version: 2,
    status: { bits: StatusValues.DONE, timeSec: nowSec, backoffSec: 0 },
    // Shaped like a round's attempt ids (round 0 never runs), as the commit protocol leaves them.
    lastAttempt: `r0.${i}`,
  }));
  const requests: WriteRequest[] = items.map((item) => ({
    PutRequest: { Item: { ...taskKey(job, item.node), ...item } },
  }));
  const slice = Math.ceil(requests.length / parallel);
  await Promise.all(
    Array.from({ length: parallel }, (_, p) => batchWrite(ctx, requests.slice(p * slice, (p + 1) * slice))),
  );
  await ctx.doc.send(new PutCommand({ TableName: ctx.tableName, Item: jobMarkerKey(job) }));

  // Entries stay well under DynamoDB's 400 KB item limit.
  for (let i = 0; i < items.length; i += SEED_ENTRY_TASKS) {
    const changes = items.slice(i, i + SEED_ENTRY_TASKS).map((item): TaskChange => ({ kind: "put", item }));
    await transactWithSequence(ctx, changes, nowSec * 1000);
  }
}
