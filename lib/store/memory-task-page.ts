// Paged listings of the in-memory task items (lib/store/memory-tasks.ts), walked as the table's
// queries walk them: in (job, node) order, from a cursor, with the same read budget per page.
import { TASK_PAGE_SCAN_BUDGET, type TaskPage, type TaskPageQuery } from "./tasks/list-page";
import type { TaskItem } from "./tasks/types";

/** Sort keys in the table's order (UTF-8 bytes, not UTF-16 code units). */
export const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** One page of `items` (job -> node -> item); the items are the held ones, not copies. */
export function pageOfItems(items: ReadonlyMap<string, ReadonlyMap<string, TaskItem>>, query: TaskPageQuery): TaskPage {
  const want = query.limit + 1;
  const found: TaskItem[] = [];
  const after = query.after;
  const jobs = after ? query.jobs.filter((job) => job >= after.job) : query.jobs;
  const matches = (item: TaskItem | undefined): item is TaskItem =>
    item !== undefined && (query.state === undefined || item.state === query.state);
  if (query.node !== undefined) {
    const node = query.node;
    for (const job of jobs) {
      const item = items.get(job)?.get(node);
      if (!matches(item) || (after && job === after.job && byBytes(node, after.node) <= 0)) continue;
      found.push(item);
      if (found.length >= want) break;
    }
  } else {
    // Past the read budget the page ends early, with a cursor at the last item read.
    const budget = query.scanBudget ?? TASK_PAGE_SCAN_BUDGET;
    let scanned = 0;
    for (const job of jobs) {
      const held = items.get(job) ?? new Map<string, TaskItem>();
      const nodes = [...held.keys()].sort(byBytes);
      for (const node of after && job === after.job ? nodes.filter((n) => byBytes(n, after.node) > 0) : nodes) {
        const item = held.get(node);
        if (matches(item)) found.push(item);
        if (found.length >= want) break;
        if (++scanned >= budget) return { tasks: found, next: { job, node } };
      }
      if (found.length >= want) break;
    }
  }
  const tasks = found.slice(0, query.limit);
  const last = tasks.at(-1);
  return found.length > query.limit && last ? { tasks, next: { job: last.job, node: last.node } } : { tasks };
}
