// A warm round's task items (ADR 0003, step 2): the items as of a change sequence, kept by the
// process across rounds. The next round reads only the change entries logged since and applies
// them, instead of every task item. Applying is idempotent (a change already contained in the
// held item is skipped), so a full read that overlaps entries it then applies stays exact.
// Done tasks that are not running are held compactly (lib/round/done-tasks.ts): a round walks
// only the other items, and learns the done ones as per-job bytes over the node tree. A cold
// process starts from the last checkpoint of a warm state (./checkpoint.ts) when there is one.
import { taskId } from "../model/task";
import { CHANGE_ENTRY_TTL_SEC, readChangeEntries } from "../store/change-sequence";
import type { StoreContext } from "../store/context";
import { readTasks, type TaskChange, type TaskItem } from "../store/tasks";
import { changedItem, changeKey } from "../store/tasks/changes";
import { CheckpointFormatError, decodeCheckpoint, type CheckpointStore } from "./checkpoint";
import { DoneTasks, isCompactDone } from "./done-tasks";

export interface TaskCache {
  /** The sequence the items are exact for. */
  sequence: number;
  /** The items not held in `done`, by task id. */
  items: Map<string, TaskItem>;
  /** Done tasks that are not running, held compactly. */
  done: DoneTasks;
  /** When the sequence was read: entries after it were all written since, and live a day. */
  readAtMs: number;
}

/** The round's view of the task items: the ones it walks, and the done ones as per-job bytes. */
export interface TaskState {
  /** Every item not held in `done` (the warm state's own objects: a round may update them in place). */
  items: TaskItem[];
  done: DoneTasks;
}

/** A warm state older than this reloads in full (the entries it needs may have expired). */
export const TASK_CACHE_MAX_AGE_MS = (CHANGE_ENTRY_TTL_SEC * 1000) / 2;

/** Applies one logged change to held items (all of them in `items`). */
export function applyChange(items: Map<string, TaskItem>, change: TaskChange): void {
  const { job, node } = changeKey(change);
  const id = taskId(job, node);
  const next = changedItem(items.get(id), change);
  if (next) items.set(id, next);
}

/** Applies one logged change to a warm state, keeping each item in the part that holds its kind. */
export function applyToCache(cache: TaskCache, change: TaskChange): void {
  const { job, node } = changeKey(change);
  const id = taskId(job, node);
  const live = cache.items.get(id);
  const next = changedItem(live ?? cache.done.get(job, node), change);
  if (!next) return;
  hold(cache, id, next, live !== undefined);
}

function hold(cache: TaskCache, id: string, item: TaskItem, wasLive: boolean): void {
  if (isCompactDone(item)) {
    if (wasLive) cache.items.delete(id);
    cache.done.add(item);
  } else {
    if (!wasLive) cache.done.delete(item.job, item.node);
    cache.items.set(id, item);
  }
}

/** A warm state holding `items`, exact for `sequence`. */
export function taskCacheOf(items: Iterable<TaskItem>, sequence: number, readAtMs: number): TaskCache {
  const cache: TaskCache = { sequence, items: new Map(), done: new DoneTasks(), readAtMs };
  for (const item of items) hold(cache, taskId(item.job, item.node), item, false);
  return cache;
}

/**
 * Moves the named done tasks into the walked items (a round that must see one whole, such as a
 * refused start's task) and returns them.
 */
export function promoteDone(cache: TaskCache, tasks: Iterable<{ job: string; node: string }>): TaskItem[] {
  const promoted: TaskItem[] = [];
  for (const { job, node } of tasks) {
    const item = cache.done.get(job, node);
    if (!item) continue;
    cache.done.delete(job, node);
    cache.items.set(taskId(job, node), item);
    promoted.push(item);
  }
  return promoted;
}

/** What keeps the warm state between rounds, and where a cold one may start from. */
export interface TaskStateHolder {
  taskCache?: TaskCache;
  /** Checkpoints of the warm state (./checkpoint.ts): a cold process loads the last one. */
  checkpoints?: CheckpointStore;
  /** The read time of the newest checkpoint this process wrote or loaded. */
  checkpointAtMs?: number;
  log?: (event: Record<string, unknown>) => void;
}

/**
 * The task state as of `sequence` (read before this call, before any task item): from the warm
 * state (or, in a cold process, the last checkpoint) plus the entries since, when those are
 * complete and it is young enough; else by reading every item of `jobs`. The result becomes the
 * warm state, in `holder.taskCache`.
 */
export async function loadTaskState(
  store: StoreContext,
  holder: TaskStateHolder,
  sequence: number,
  jobs: readonly string[],
  nowMs: number,
): Promise<TaskState> {
  let cache = holder.taskCache;
  const cold = cache === undefined;
  if (cold && holder.checkpoints) cache = await checkpointCache(holder, nowMs);
  if (cache && cache.sequence <= sequence && nowMs - cache.readAtMs < TASK_CACHE_MAX_AGE_MS) {
    const entries = await readChangeEntries(store, cache.sequence, sequence);
    if (entries.length === sequence - cache.sequence) {
      for (const entry of entries) for (const change of entry.changes) applyToCache(cache, change);
      if (cold) {
        // The checkpoint served: the next one is due CHECKPOINT_EVERY_MS after it was made.
        holder.checkpointAtMs = cache.readAtMs;
        holder.log?.({ event: "task-cache-from-checkpoint", from: cache.sequence, to: sequence });
      }
      cache.sequence = sequence;
      cache.readAtMs = nowMs;
      holder.taskCache = cache;
      return { items: [...cache.items.values()], done: cache.done };
    }
    holder.log?.({ event: "task-cache-reload", reason: "change entries missing", from: cache.sequence, to: sequence });
  }
  const loaded = taskCacheOf(await readTasks(store, jobs), sequence, nowMs);
  holder.taskCache = loaded;
  return { items: [...loaded.items.values()], done: loaded.done };
}

/** The stored checkpoint as a warm state; undefined when there is none, or none this process can use. */
async function checkpointCache(holder: TaskStateHolder, nowMs: number): Promise<TaskCache | undefined> {
  const log = holder.log;
  let body: Buffer | undefined;
  try {
    body = await holder.checkpoints?.read();
  } catch (error) {
    // A cold start can always read every item instead.
    log?.({ event: "checkpoint-unreadable", error: error instanceof Error ? error.message : String(error) });
    return undefined;
  }
  if (body === undefined) return undefined;
  try {
    const { sequence, readAtMs, items } = decodeCheckpoint(body);
    if (nowMs - readAtMs >= TASK_CACHE_MAX_AGE_MS) {
      log?.({ event: "checkpoint-too-old", sequence, readAtMs });
      return undefined;
    }
    return taskCacheOf(items, sequence, readAtMs);
  } catch (error) {
    if (!(error instanceof CheckpointFormatError)) throw error;
    log?.({ event: "checkpoint-unreadable", error: error.message });
    return undefined;
  }
}

/** Every task item as of `sequence`, done ones included (see `loadTaskState`). */
export async function loadTaskItems(
  store: StoreContext,
  holder: TaskStateHolder,
  sequence: number,
  jobs: readonly string[],
  nowMs: number,
): Promise<TaskItem[]> {
  const state = await loadTaskState(store, holder, sequence, jobs, nowMs);
  return [...state.items, ...state.done.items()];
}
