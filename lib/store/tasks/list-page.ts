// Paged listings of task items for the API, with a read budget per page.
import { paginateQuery } from "@aws-sdk/lib-dynamodb";
import type { StoreContext } from "../context";
import { taskPk } from "../keys";
import { getTasks } from "./get-tasks";
import { toTaskItem, type TaskItem, type TaskState } from "./types";

/** Items one listing request reads at most before it ends its page early. */
export const TASK_PAGE_SCAN_BUDGET = 10_000;

/** A page request over task items of some jobs (API listings). */
export interface TaskPageQuery {
  /** The jobs to list, sorted ascending (pages walk them in this order). */
  jobs: readonly string[];
  /** Only this node. */
  node?: string;
  state?: TaskState;
  limit: number;
  /** Continue after this key (the previous page's `next`). */
  after?: { job: string; node: string };
  /** Items read at most before the page ends early; default TASK_PAGE_SCAN_BUDGET. */
  scanBudget?: number;
}

export interface TaskPage {
  tasks: TaskItem[];
  /** Where the next page starts (after this key), when more may follow. */
  next?: { job: string; node: string };
}

/** The query's jobs from its cursor on. */
export function jobsFrom(query: TaskPageQuery): readonly string[] {
  const after = query.after;
  return after ? query.jobs.filter((job) => job >= after.job) : query.jobs;
}

/** Cuts what a page read (up to limit + 1 items) to the page, with a cursor when more follow. */
export function pageOf(found: readonly TaskItem[], limit: number): TaskPage {
  const tasks = found.slice(0, limit);
  const last = tasks.at(-1);
  return found.length > limit && last ? { tasks, next: { job: last.job, node: last.node } } : { tasks };
}

/** A page of one node's items (`query.node`), given each job's item. */
export function nodePage(
  query: TaskPageQuery & { node: string },
  itemOf: (job: string) => TaskItem | undefined,
): TaskPage {
  const found: TaskItem[] = [];
  const { after, node } = query;
  for (const job of jobsFrom(query)) {
    const item = itemOf(job);
    if (!item || (query.state !== undefined && item.state !== query.state)) continue;
    if (after && job === after.job && node <= after.node) continue;
    found.push(item);
    if (found.length > query.limit) break;
  }
  return pageOf(found, query.limit);
}

/**
 * One page of task items in (job order, node order). With `node`, the items are fetched by key;
 * otherwise each job's partition is queried from the cursor on, filtered by state on the server.
 */
export async function listTaskPage(ctx: StoreContext, query: TaskPageQuery): Promise<TaskPage> {
  if (query.node !== undefined) {
    const node = query.node;
    const items = await getTasks(
      ctx,
      jobsFrom(query).map((job) => ({ job, node })),
    );
    const byJob = new Map(items.map((item) => [item.job, item]));
    return nodePage({ ...query, node }, (job) => byJob.get(job));
  }
  const want = query.limit + 1;
  const found: TaskItem[] = [];
  const after = query.after;
  // A rare state can sit among many items: past a read budget, the page ends early (even empty)
  // with a cursor at the last item read, as DynamoDB's own paging does.
  const budget = query.scanBudget ?? TASK_PAGE_SCAN_BUDGET;
  let scanned = 0;
  for (const job of jobsFrom(query)) {
    const start = after && job === after.job ? { pk: taskPk(job), sk: after.node } : undefined;
    const pages = paginateQuery(
      { client: ctx.doc, ...(start ? { startingToken: start } : {}) },
      {
        TableName: ctx.tableName,
        KeyConditionExpression: "pk = :pk",
        ...(query.state !== undefined
          ? {
              FilterExpression: "#state = :state",
              ExpressionAttributeNames: { "#state": "state" },
              ExpressionAttributeValues: { ":pk": taskPk(job), ":state": query.state },
            }
          : { ExpressionAttributeValues: { ":pk": taskPk(job) } }),
        Limit: Math.min(1000, want - found.length, budget),
        ConsistentRead: true,
      },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) found.push(toTaskItem(item));
      if (found.length >= want) break;
      scanned += page.ScannedCount ?? 0;
      const lastRead: unknown = page.LastEvaluatedKey?.sk;
      if (scanned >= budget && typeof lastRead === "string") {
        return { tasks: found, next: { job, node: lastRead } };
      }
    }
    if (found.length >= want) break;
  }
  return pageOf(found, query.limit);
}
