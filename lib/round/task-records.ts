// Stored task items as the round uses them: the scheduler's records (charges grouped back into
// per-node usage) and the task JSON's resources_by_node.
import type { TaskRecord } from "../scheduler/snapshot";
import type { TaskItem } from "../store/tasks";

/** The scheduler's view of a stored task item (charges grouped back into per-node usage). */
export function toRecord(item: TaskItem): TaskRecord {
  const running = item.running;
  if (!running) return { job: item.job, node: item.node, ...(item.status ? { status: item.status } : {}) };
  const usage = new Map<string, { node: string; level: string; resources: Record<string, number> }>();
  for (const charge of running.charges) {
    const id = `${charge.level}\u0000${charge.name}`;
    let entry = usage.get(id);
    if (!entry) usage.set(id, (entry = { node: charge.name, level: charge.level, resources: {} }));
    entry.resources[charge.resource] = charge.amount;
  }
  return {
    job: item.job,
    node: item.node,
    ...(item.status ? { status: item.status } : {}),
    running: {
      attemptId: running.attempt,
      workerId: running.worker,
      startTimeSec: Math.floor(running.startedAtMs / 1000),
      usage: [...usage.values()],
      nextBackoff: running.nextBackoff,
    },
  };
}

/** The task JSON's resources_by_node, from the charges a running item recorded. */
export function resourcesByNode(item: TaskItem): Record<string, Record<string, number>> {
  const byNode: Record<string, Record<string, number>> = {};
  for (const charge of item.running?.charges ?? []) (byNode[charge.name] ??= {})[charge.resource] = charge.amount;
  return byNode;
}
