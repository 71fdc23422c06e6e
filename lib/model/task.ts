// A task's identity: one (job, node) pair. One string form, used wherever tasks are keyed in maps.
// And the coarse state a task item is filed under.

/** Running, or the kind of the last status it ended with (lib/scheduler/task-state.ts). */
export type TaskState = "running" | "done" | "failed" | "backoff" | "incomplete" | "error";

/** A map key for the task (job, node); NUL cannot occur in a name, so keys never collide. */
export function taskId(job: string, node: string): string {
  return `${job}\u0000${node}`;
}
