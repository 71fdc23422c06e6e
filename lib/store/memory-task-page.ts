// Paged listings of the in-memory task items (lib/store/memory-tasks.ts), walked as the table's
// queries walk them: in (job, node) order, from a cursor, with the same read budget per page.
import {
  jobsFrom,
  nodePage,
  pageOf,
  TASK_PAGE_SCAN_BUDGET,
  type TaskPage,
  type TaskPageQuery,
} from "./tasks/list-page";
import type { TaskItem } from "./tasks/types";

/** Sort keys in the table's order (UTF-8 bytes, not UTF-16 code units). */
export const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** One page of `items` (job -> node -> item); the items are the held ones, not copies. */
export function pageOfItems(items: ReadonlyMap<string, ReadonlyMap<string, TaskItem>>, query: TaskPageQuery): TaskPage {
  const node = query.node;
  if (node !== undefined) return nodePage({ ...query, node }, (job) => items.get(job)?.get(node));
  // As the table's queries walk partitions: from the cursor on; past the read budget the page
  // ends early, with a cursor at the last item read.
  const budget = query.scanBudget ?? TASK_PAGE_SCAN_BUDGET;
  const found: TaskItem[] = [];
  let scanned = 0;
  for (const job of jobsFrom(query)) {
    const held = items.get(job) ?? new Map<string, TaskItem>();
    const from = query.after?.job === job ? query.after.node : undefined;
    for (const node of [...held.keys()].sort(byBytes).filter((n) => from === undefined || byBytes(n, from) > 0)) {
      const item = held.get(node) as TaskItem;
      if (query.state === undefined || item.state === query.state) found.push(item);
      if (found.length > query.limit) return pageOf(found, query.limit);
      if (++scanned >= budget) return { tasks: found, next: { job, node } };
    }
  }
  return pageOf(found, query.limit);
}
