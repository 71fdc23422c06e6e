// The round's first step: everything it plans with, read from the store (config parsed and
// cached per version, scheduler state, workers, counters, the dispatch key, and the task items:
// from the warm state or the last checkpoint and the change entries since, or read in full),
// then a new checkpoint when one is due.
import { parseConfig } from "../config";
import type { Config } from "../model/config";
import { readChangeSequence } from "../store/change-sequence";
import { getConfig, getCurrentConfigVersion } from "../store/config-store";
import { readCounters, type CounterUsage } from "../store/counters";
import type { AttemptTokens } from "../dispatch/tokens";
import { readAttemptTokens } from "../store/dispatch-key";
import { readSchedulerState, type SchedulerState } from "../store/scheduler-state";
import { readJobsWithTasks, type TaskItem } from "../store/tasks";
import { listWorkers, type WorkerRecord } from "../store/workers";
import type { RoundDeps } from "./round-types";
import type { DoneTasks } from "./done-tasks";
import { loadTaskState, writeCheckpointIfDue } from "./task-cache";

export interface RoundInputs {
  /** The change sequence, read before any task item (a write landing after it bumps it again). */
  sequence: number;
  config: Config;
  state: SchedulerState;
  workerRecords: WorkerRecord[];
  counters: CounterUsage;
  tokenOf: AttemptTokens;
  /**
   * Every held task item except the done ones that are not running (those are in `done`). Of jobs
   * the config no longer has, only the running items.
   */
  items: TaskItem[];
  done: DoneTasks;
}

/** The current config, parsed once per version (kept in `deps.cache`); null when none is stored. */
export async function loadConfig(deps: RoundDeps): Promise<Config | null> {
  const version = await getCurrentConfigVersion(deps.store);
  if (version === null) return null;
  if (deps.cache?.version === version) return deps.cache.config;
  const stored = await getConfig(deps.store, version);
  if (!stored) return null;
  const parsed = parseConfig(stored.document);
  if (!parsed.ok) {
    throw new Error(
      `The stored config version ${version} is invalid: ${parsed.errors.map((e) => e.message).join("; ")}`,
    );
  }
  deps.cache = { version, config: parsed.config };
  return parsed.config;
}

/** Reads the round's inputs; null when no config is stored yet. */
export async function loadRound(deps: RoundDeps): Promise<RoundInputs | null> {
  // Counters are read before task items: a release landing between the two reads then makes
  // a repair's condition fail instead of inflating a counter (starts cannot land: we hold the lease).
  // The change sequence is read before any task item: a write landing after it bumps it again.
  const [sequence, config, state, workerRecords, counters, tokenOf] = await Promise.all([
    readChangeSequence(deps.store),
    loadConfig(deps),
    readSchedulerState(deps.store),
    listWorkers(deps.store),
    readCounters(deps.store),
    readAttemptTokens(deps.store),
  ]);
  if (!config) return null;
  const jobs = { planned: new Set(Object.keys(config.jobs)), withTasks: () => readJobsWithTasks(deps.store) };
  const nowMs = deps.clock();
  const { items, done } = await loadTaskState(deps.store, deps, sequence, jobs, nowMs);
  // Now, while the warm state is exact for `sequence` and the round has changed nothing in it.
  await writeCheckpointIfDue(deps, nowMs);
  return { sequence, config, state, workerRecords, counters, tokenOf, items, done };
}
