// Readers shared by bistro_settings and jobs (Bistro's parsing_common.cpp): level names,
// kill_orphan_tasks_after_sec, task_subprocess and kill_subprocess. A job reads the last three
// on top of the settings' values, key by key.
import { INSTANCE_LEVEL, WORKER_LEVEL } from "../model/config";
import type { KillRequest, Settings, TaskSubprocessOptions } from "../model/config";
import { copyTaskSubprocess, KILL_METHODS } from "./defaults";
import { describeValue, oneOf, type IssueSink } from "./issues";
import {
  BOOL,
  check,
  enumRule,
  INT,
  MAX_SECONDS,
  NON_NEGATIVE_INT,
  ObjectReader,
  POSITIVE_INT,
  readStringArray,
  STRING,
} from "./read";

/** The level names a config knows: `instance`, the configured levels, `worker`. */
export interface LevelTable {
  readonly all: readonly string[];
  /** The same names, for lookups. */
  readonly known: ReadonlySet<string>;
  /** False when `nodes.levels` itself is broken: level names are then not checked (no noise). */
  readonly trusted: boolean;
}

export function levelTable(levels: readonly string[], trusted = true): LevelTable {
  const all = [INSTANCE_LEVEL, ...levels, WORKER_LEVEL];
  return { all, known: new Set(all), trusted };
}

/** One table per settings object: every job of a config shares it (linear in jobs + levels). */
const tables = new WeakMap<Settings, LevelTable>();

export function settingsLevelTable(settings: Settings): LevelTable {
  let table = tables.get(settings);
  if (!table) {
    table = levelTable(settings.levels);
    tables.set(settings, table);
  }
  return table;
}

export function unknownLevelMessage(name: string, levels: LevelTable): string {
  return `unknown level ${JSON.stringify(name)}; levels are ${oneOf(levels.all)}`;
}

/** A level name that must exist ("Unknown identifier" in Bistro). */
export function readLevelName(sink: IssueSink, value: unknown, path: string, levels: LevelTable): string | undefined {
  const name = check(sink, value, path, STRING);
  if (name === undefined) return undefined;
  if (levels.trusted && !levels.known.has(name)) {
    sink.error(path, unknownLevelMessage(name, levels), name);
    return undefined;
  }
  return name;
}

/** Seconds, truncated to whole milliseconds as Bistro stores them (robust to float noise). */
export function truncateToMs(seconds: number): number {
  return Math.trunc(seconds * 1000 + 1e-6) / 1000;
}

/**
 * `kill_orphan_tasks_after_sec`: true = 0 s, false or negative = never (null), a number >= 0 =
 * seconds. Returns `fallback` when the key is absent or bad.
 */
export function readKillOrphanTasksAfter(reader: ObjectReader, fallback: number | null): number | null {
  const key = "kill_orphan_tasks_after_sec";
  if (!reader.has(key)) return fallback;
  const value = reader.take(key);
  if (typeof value === "boolean") return value ? 0 : null;
  if (typeof value === "number" && Number.isFinite(value) && value <= MAX_SECONDS) {
    return value >= 0 ? truncateToMs(value) : null;
  }
  reader.sink.error(
    reader.at(key),
    "expected a number of seconds (up to 1e12) or a boolean (true = kill at once, false = never), " +
      `found ${describeValue(value)}`,
    value,
  );
  return fallback;
}

/** `task_subprocess`, each key read over `base` (a job's list of cgroup subsystems replaces the base's). */
export function readTaskSubprocess(reader: ObjectReader, base: TaskSubprocessOptions): TaskSubprocessOptions {
  const options = copyTaskSubprocess(base);
  const sub = reader.object("task_subprocess");
  if (!sub) return options;
  options.pollMs = sub.optional("poll_ms", POSITIVE_INT, options.pollMs);
  options.maxLogLinesPerPollInterval = sub.optional(
    "max_log_lines_per_poll_interval",
    INT,
    options.maxLogLinesPerPollInterval,
  );
  options.parentDeathSignal = sub.optional("parent_death_signal", NON_NEGATIVE_INT, options.parentDeathSignal);
  options.processGroupLeader = sub.optional("process_group_leader", BOOL, options.processGroupLeader);
  options.useCanaryPipe = sub.optional("use_canary_pipe", BOOL, options.useCanaryPipe);
  const cgroups = sub.object("cgroups");
  if (cgroups) {
    options.cgroups.root = cgroups.optional("root", STRING, options.cgroups.root);
    options.cgroups.slice = cgroups.optional("slice", STRING, options.cgroups.slice);
    if (cgroups.has("subsystems")) {
      const subsystems = readStringArray(reader.sink, cgroups.take("subsystems"), cgroups.at("subsystems"));
      if (subsystems) options.cgroups.subsystems = subsystems;
    }
    options.cgroups.killWithoutFreezer = cgroups.optional(
      "kill_without_freezer",
      BOOL,
      options.cgroups.killWithoutFreezer,
    );
    cgroups.reportUnknownKeys();
  }
  sub.reportUnknownKeys();
  return options;
}

const KILL_METHOD = enumRule(KILL_METHODS);

/** `kill_subprocess`, each key read over `base`. */
export function readKillRequest(reader: ObjectReader, base: KillRequest): KillRequest {
  const request = { ...base };
  const sub = reader.object("kill_subprocess");
  if (!sub) return request;
  request.method = sub.optional("method", KILL_METHOD, request.method);
  request.killWaitMs = sub.optional("kill_wait_ms", INT, request.killWaitMs);
  sub.reportUnknownKeys();
  return request;
}

/** Hints for keys from Bistro's docs that its code never read. */
export const KILL_REQUEST_HINT =
  'not a Bistro key (the docs\' "kill_request" example is wrong); use "kill_subprocess"; ignored';
