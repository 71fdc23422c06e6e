// A warm round's task items (ADR 0003, step 2): the items as of a change sequence, kept by the
// process across rounds. The next round reads only the change entries logged since and applies
// them, instead of every task item. Applying is idempotent (a change already contained in the
// held item is skipped), so a full read that overlaps entries it then applies stays exact.
// Done tasks that are not running are held compactly (lib/round/done-tasks.ts): a round walks
// only the other items, and learns the done ones as per-job bytes over the node tree. A cold
// process starts from the last checkpoint of a warm state (./checkpoint.ts) when there is one.
// Jobs the config no longer has are retired: only their running tasks are held (their charges
// count and their ends still arrive), as Bistro drops a deleted job's statuses unless it runs;
// their items stay stored and are read back if the job is configured again.
import { taskId } from "../model/task";
import { CHANGE_ENTRY_TTL_SEC, readChangeEntries } from "../store/change-sequence";
import type { StoreContext } from "../store/context";
import { readTasks, type TaskChange, type TaskItem } from "../store/tasks";
import { changedItem, changeKey } from "../store/tasks/changes";
import {
  CHECKPOINT_EVERY_MS,
  CheckpointFormatError,
  decodeCheckpoint,
  encodeCheckpoint,
  type CheckpointContent,
  type CheckpointStore,
} from "./checkpoint";
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
  /** Jobs not configured: of these only running items are held (the rest stay stored). */
  retired: Set<string>;
  /** The configured jobs the held jobs were last brought in line with (none yet: undefined). */
  followed?: ReadonlySet<string>;
}

/** The jobs a round plans, and where to learn the others when it must read every item. */
export interface TaskStateJobs {
  /** The configured jobs (enabled or not); the others are retired. */
  planned: ReadonlySet<string>;
  /**
   * Every job with task items, deleted ones too. Asked only for a full read: a warm state already
   * holds or has retired every job with items (new ones arrive in start entries), and the list
   * grows with every job ever started.
   */
  withTasks: () => Promise<readonly string[]>;
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
  if (cache.retired.has(job) && next.state !== "running") {
    // A retired job's task that stops running is no longer held (a late start cannot come: only
    // configured jobs start, and a round retires a job only after reading a config without it).
    if (live) cache.items.delete(id);
    return;
  }
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

/** A warm state holding `items`, exact for `sequence`; `retired` jobs' items must all be running. */
export function taskCacheOf(
  items: Iterable<TaskItem>,
  sequence: number,
  readAtMs: number,
  retired: Iterable<string> = [],
): TaskCache {
  const cache: TaskCache = { sequence, items: new Map(), done: new DoneTasks(), readAtMs, retired: new Set(retired) };
  for (const item of items) hold(cache, taskId(item.job, item.node), item, false);
  return cache;
}

/**
 * Brings the held jobs in line with the config: a job no longer planned is retired (its items
 * that are not running are dropped); a retired job planned again has its items read back.
 */
async function followJobs(
  store: StoreContext,
  cache: TaskCache,
  planned: ReadonlySet<string>,
  withTasks: readonly string[] = [],
): Promise<void> {
  // Only a config change retires or brings back a job: new jobs' items come from starts, which
  // only configured jobs get, and a retired job's changes are dropped as they apply.
  if (withTasks.length === 0 && cache.followed && sameJobs(cache.followed, planned)) return;
  cache.followed = new Set(planned);
  const held = new Set([...withTasks, ...cache.done.jobNames()]);
  for (const item of cache.items.values()) held.add(item.job);
  for (const job of held) {
    if (planned.has(job) || cache.retired.has(job)) continue;
    cache.retired.add(job);
    cache.done.deleteJob(job);
  }
  for (const [id, item] of cache.items) {
    if (cache.retired.has(item.job) && item.state !== "running") cache.items.delete(id);
  }
  const returning = [...cache.retired].filter((job) => planned.has(job));
  if (returning.length === 0) return;
  // Read after `sequence`, like a full read: the entries the next round applies that these items
  // already contain are skipped.
  for (const item of await readTasks(store, returning)) {
    const id = taskId(item.job, item.node);
    const live = cache.items.get(id);
    if (live && live.version >= item.version) continue;
    hold(cache, id, item, live !== undefined);
  }
  for (const job of returning) cache.retired.delete(job);
}

function sameJobs(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const job of a) if (!b.has(job)) return false;
  return true;
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
 * complete and it is young enough; else by reading every item of every job with items. The result
 * becomes the warm state, in `holder.taskCache`.
 */
export async function loadTaskState(
  store: StoreContext,
  holder: TaskStateHolder,
  sequence: number,
  jobs: TaskStateJobs,
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
      await followJobs(store, cache, jobs.planned);
      holder.taskCache = cache;
      return { items: [...cache.items.values()], done: cache.done };
    }
    holder.log?.({ event: "task-cache-reload", reason: "change entries missing", from: cache.sequence, to: sequence });
  }
  const withTasks = await jobs.withTasks();
  const all = [...new Set([...jobs.planned, ...withTasks])];
  const loaded = taskCacheOf(await readTasks(store, all), sequence, nowMs);
  await followJobs(store, loaded, jobs.planned, withTasks);
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
    const { sequence, readAtMs, items, retired } = decodeCheckpoint(body);
    if (nowMs - readAtMs >= TASK_CACHE_MAX_AGE_MS) {
      log?.({ event: "checkpoint-too-old", sequence, readAtMs });
      return undefined;
    }
    return taskCacheOf(items, sequence, readAtMs, retired);
  } catch (error) {
    if (!(error instanceof CheckpointFormatError)) throw error;
    log?.({ event: "checkpoint-unreadable", error: error.message });
    return undefined;
  }
}

/** Every held task item as of `sequence`, done ones included (see `loadTaskState`). */
export async function loadTaskItems(
  store: StoreContext,
  holder: TaskStateHolder,
  sequence: number,
  jobs: TaskStateJobs,
  nowMs: number,
): Promise<TaskItem[]> {
  const state = await loadTaskState(store, holder, sequence, jobs, nowMs);
  return [...state.items, ...state.done.items()];
}

/** What a checkpoint of `cache` holds. */
export function checkpointContent(cache: TaskCache): CheckpointContent {
  return {
    sequence: cache.sequence,
    readAtMs: cache.readAtMs,
    items: cache.items.values(),
    done: cache.done.items(),
    retired: cache.retired,
  };
}

/**
 * Writes a checkpoint of `holder.taskCache` when the last one this process wrote or loaded is
 * older than CHECKPOINT_EVERY_MS (or there is none). Call it while the warm state is exact for its
 * sequence, before a round changes anything in it. Never throws: a failure is logged, and the
 * next round tries again.
 */
export async function writeCheckpointIfDue(holder: TaskStateHolder, nowMs: number): Promise<void> {
  const { taskCache: cache, checkpoints } = holder;
  if (!cache || !checkpoints) return;
  if (holder.checkpointAtMs !== undefined && nowMs - holder.checkpointAtMs < CHECKPOINT_EVERY_MS) return;
  try {
    const body = encodeCheckpoint(checkpointContent(cache));
    await checkpoints.write(body);
    holder.checkpointAtMs = cache.readAtMs;
    holder.log?.({ event: "checkpoint-written", sequence: cache.sequence, bytes: body.length });
  } catch (error) {
    holder.log?.({ event: "checkpoint-failed", error: error instanceof Error ? error.message : String(error) });
  }
}
