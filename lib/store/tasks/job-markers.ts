// Which jobs have task items: one marker item per job (JOB_WITH_TASKS/<job>), put inside the
// fenced transaction of the start commit that first writes a task of the job, and never removed,
// so a round reading every item also reads the jobs since deleted from the config. Markers replace
// one set item that every start commit grew: at about 20,000 names (or 400 names of 1 KB) it would
// have passed DynamoDB's 400 KB item limit and refused every start. That set is still read, for
// the jobs recorded before markers.
import { GetCommand, paginateQuery } from "@aws-sdk/lib-dynamodb";
import type { StoreContext } from "../context";
import { JOB_MARKER_PK, jobMarkerKey, JOBS_WITH_TASKS_KEY } from "../keys";
import type { TransactItem } from "./transact";

/** Per table, the jobs this process knows have a marker (or are in the old set): markers stay. */
const recorded = new Map<string, Set<string>>();

function recordedOf(ctx: StoreContext): Set<string> {
  let jobs = recorded.get(ctx.tableName);
  if (!jobs) recorded.set(ctx.tableName, (jobs = new Set()));
  return jobs;
}

/** Whether this process knows `job` has its marker (a start commit then puts none). */
export function isJobRecorded(ctx: StoreContext, job: string): boolean {
  return recordedOf(ctx).has(job);
}

/** The marker a start commit must put for `job`: none once this process knows it is recorded. */
export function jobMarkerPut(ctx: StoreContext, job: string): TransactItem | undefined {
  if (isJobRecorded(ctx, job)) return undefined;
  return { Put: { TableName: ctx.tableName, Item: jobMarkerKey(job) } };
}

/** After a transaction holding their marker puts committed (a marker put twice is the same item). */
export function markJobsRecorded(ctx: StoreContext, jobs: Iterable<string>): void {
  const known = recordedOf(ctx);
  for (const job of jobs) known.add(job);
}

/** Every job that has task items (including jobs since deleted from the config), sorted. */
export async function readJobsWithTasks(ctx: StoreContext): Promise<string[]> {
  const jobs = new Set<string>();
  const pages = paginateQuery(
    { client: ctx.doc },
    {
      TableName: ctx.tableName,
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": JOB_MARKER_PK },
      ProjectionExpression: "sk",
      ConsistentRead: true,
    },
  );
  const legacy = ctx.doc.send(
    new GetCommand({ TableName: ctx.tableName, Key: JOBS_WITH_TASKS_KEY, ConsistentRead: true }),
  );
  for await (const page of pages) for (const item of page.Items ?? []) jobs.add(String(item.sk));
  for (const job of ((await legacy).Item?.jobs as Set<string> | undefined) ?? []) jobs.add(job);
  markJobsRecorded(ctx, jobs);
  return [...jobs].sort();
}
