// Whole-partition reads of task items: all items of some jobs (which jobs have items: ./job-markers.ts).
import { paginateQuery } from "@aws-sdk/lib-dynamodb";
import type { StoreContext } from "../context";
import { taskPk } from "../keys";
import { toTaskItem, type TaskItem } from "./types";

/** All task items of one job, paginated. */
export async function readJobTasks(ctx: StoreContext, job: string): Promise<TaskItem[]> {
  const tasks: TaskItem[] = [];
  const pages = paginateQuery(
    { client: ctx.doc },
    {
      TableName: ctx.tableName,
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": taskPk(job) },
      ConsistentRead: true,
    },
  );
  for await (const page of pages) for (const item of page.Items ?? []) tasks.push(toTaskItem(item));
  return tasks;
}

/** Task items of many jobs, read in parallel (a few queries at a time). */
export async function readTasks(ctx: StoreContext, jobs: readonly string[], parallel = 8): Promise<TaskItem[]> {
  const results: TaskItem[][] = [];
  for (let i = 0; i < jobs.length; i += parallel) {
    results.push(...(await Promise.all(jobs.slice(i, i + parallel).map((job) => readJobTasks(ctx, job)))));
  }
  return results.flat();
}
