// Task items and the commit protocol (ADR 0002), one module per storage operation: reads of
// whole partitions, reads by key, starting, finishing and paged listings.
export type {
  CounterCharge,
  FinishApplyResult,
  FinishWrite,
  LimitedCharge,
  StartCommitResult,
  StartWrite,
  TaskChange,
  TaskItem,
  TaskState,
} from "./types";
export { readJobTasks, readTasks } from "./read-tasks";
export { readJobsWithTasks } from "./job-markers";
export { getTasks } from "./get-tasks";
export { commitStarts } from "./commit-starts";
export { applyFinishes } from "./apply-finishes";
export { TASK_PAGE_SCAN_BUDGET, listTaskPage, type TaskPage, type TaskPageQuery } from "./list-page";
