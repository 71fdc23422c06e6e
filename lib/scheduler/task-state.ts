// The coarse state a task item is filed under, from its status bits (for listings and the
// `state` filter of GET /tasks).
import { StatusBits, type TaskStatus } from "../model/status";
import type { TaskState } from "../model/task";

export function stateOfStatus(status: TaskStatus): Exclude<TaskState, "running"> {
  const bits = status.bits;
  if (bits & StatusBits.DONE) return "done";
  if (bits & StatusBits.FAILED) return "failed";
  if (bits & StatusBits.USES_BACKOFF) return "backoff";
  if (bits & StatusBits.INCOMPLETE) return "incomplete";
  return "error";
}
