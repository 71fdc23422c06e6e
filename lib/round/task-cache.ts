// A warm round's task items (ADR 0003, step 2): the items as of a change sequence, kept by the
// process across rounds. The next round reads only the change entries logged since and applies
// them, instead of every task item. Applying is idempotent (a change already contained in the
// held item is skipped), so a full read that overlaps entries it then applies stays exact.
import { taskId } from "../model/task";
import { CHANGE_ENTRY_TTL_SEC, readChangeEntries } from "../store/change-sequence";
import type { StoreContext } from "../store/context";
import { readTasks, type TaskChange, type TaskItem } from "../store/tasks";

export interface TaskCache {
  /** The sequence the items are exact for. */
  sequence: number;
  items: Map<string, TaskItem>;
  /** When the sequence was read: entries after it were all written since, and live a day. */
  readAtMs: number;
}

/** A warm state older than this reloads in full (the entries it needs may have expired). */
export const TASK_CACHE_MAX_AGE_MS = (CHANGE_ENTRY_TTL_SEC * 1000) / 2;

/** Applies one logged change to the held items, exactly as its write changed the stored item. */
export function applyChange(items: Map<string, TaskItem>, change: TaskChange): void {
  if (change.kind === "put") {
    const id = taskId(change.item.job, change.item.node);
    const held = items.get(id);
    if (!held || held.version < change.item.version) items.set(id, { ...change.item });
    return;
  }
  const id = taskId(change.job, change.node);
  const held = items.get(id);
  switch (change.kind) {
    case "start": {
      if (held && held.version >= change.version) return;
      const base: TaskItem = held ?? { job: change.job, node: change.node, state: "running", version: 0 };
      items.set(id, { ...base, state: "running", version: change.version, running: change.running });
      return;
    }
    case "finish": {
      // Attempt ids never repeat: a held item no longer running this attempt already has the end.
      if (!held || held.running?.attempt !== change.attempt) return;
      const { running: _ended, lastTokenHash: _previous, ...rest } = held;
      items.set(id, {
        ...rest,
        state: change.state,
        status: change.status,
        version: held.version + 1,
        lastAttempt: change.attempt,
        ...(change.tokenHash === undefined ? {} : { lastTokenHash: change.tokenHash }),
      });
      return;
    }
    case "replace": {
      if (!held || held.version >= change.version) return;
      items.set(id, { ...held, state: change.state, status: change.status, version: change.version });
      return;
    }
  }
}

/**
 * The task items as of `sequence` (read before this call, before any task item): from the warm
 * state plus the entries since when it is complete and young enough, else by reading every item
 * of `jobs` (which then becomes the warm state).
 */
export async function loadTaskItems(
  store: StoreContext,
  holder: { taskCache?: TaskCache; log?: (event: Record<string, unknown>) => void },
  sequence: number,
  jobs: readonly string[],
  nowMs: number,
): Promise<TaskItem[]> {
  const cache = holder.taskCache;
  if (cache && cache.sequence <= sequence && nowMs - cache.readAtMs < TASK_CACHE_MAX_AGE_MS) {
    const entries = await readChangeEntries(store, cache.sequence, sequence);
    if (entries.length === sequence - cache.sequence) {
      for (const entry of entries) for (const change of entry.changes) applyChange(cache.items, change);
      cache.sequence = sequence;
      cache.readAtMs = nowMs;
      return [...cache.items.values()];
    }
    holder.log?.({ event: "task-cache-reload", reason: "change entries missing", from: cache.sequence, to: sequence });
  }
  const items = await readTasks(store, jobs);
  holder.taskCache = {
    sequence,
    items: new Map(items.map((item) => [taskId(item.job, item.node), item])),
    readAtMs: nowMs,
  };
  return items;
}
