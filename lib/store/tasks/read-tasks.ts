// Whole-partition reads of task items: every job with items, and all items of some jobs.
import { GetCommand, paginateQuery } from "@aws-sdk/lib-dynamodb";
import type { StoreContext } from "../context";
import { JOBS_WITH_TASKS_KEY, taskPk } from "../keys";
import { toTaskItem, type TaskItem } from "./types";

/** Every job that has task items (including jobs since deleted from the config). */
export async function readJobsWithTasks(ctx: StoreContext): Promise<string[]> {
  const result = await ctx.doc.send(
    new GetCommand({ TableName: ctx.tableName, Key: JOBS_WITH_TASKS_KEY, ConsistentRead: true }),
  );
  const jobs = result.Item?.jobs as Set<string> | undefined;
  return jobs ? [...jobs].sort() : [];
}

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
