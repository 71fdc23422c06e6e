// A task's identity: one (job, node) pair. One string form, used wherever tasks are keyed in maps.

/** A map key for the task (job, node); NUL cannot occur in a name, so keys never collide. */
export function taskId(job: string, node: string): string {
  return `${job}\u0000${node}`;
}
