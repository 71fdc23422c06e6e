// One `bistro_job->NAME` (Job.cpp), read against valid settings. A broken job is
// still returned, with its defaults where fields were bad and `errors` filled, so it is listed but
// never scheduled. Also used alone by the API for single-job PUTs.
import type { ConfigIssue, ContainerSpec, Job, JobFilter, ResourceAmounts, Settings } from "../model/config";
import { parseBackoff } from "./backoff";
import {
  KILL_REQUEST_HINT,
  readKillOrphanTasksAfter,
  readKillRequest,
  readLevelName,
  readTaskSubprocess,
  settingsLevelTable,
  unknownLevelMessage,
} from "./common";
import { copyBackoff, copyTaskSubprocess, DEFAULT_PRIORITY } from "./defaults";
import { withDependencyCycleErrors } from "./dependencies";
import { parseFilter } from "./filters";
import { capIssues, childPath, IssueSink, isPlainObject, mergeIssues, oneOf, putEntry } from "./issues";
import {
  BOOL,
  check,
  INT,
  NON_NEGATIVE_INT,
  NUMBER,
  OBJECT,
  ObjectReader,
  POSITIVE_INT,
  readStringArray,
  rule,
  STRING,
  type Rule,
} from "./read";
import * as z from "./zod";

export const JOB_PREFIX = "bistro_job->";

/** The longest `attempt_duration_seconds`: 30 days. */
export const MAX_ATTEMPT_DURATION_SECONDS = 30 * 86_400;
/** AWS Batch's `attemptDurationSeconds`, as a Bistro-style job key: whole seconds, 1 to 30 days. */
const ATTEMPT_DURATION_SECONDS: Rule<number> = rule(
  () => z.int().check(z.minimum(1), z.maximum(MAX_ATTEMPT_DURATION_SECONDS)),
  `whole seconds from 1 to ${MAX_ATTEMPT_DURATION_SECONDS}`,
);

export interface JobParseResult {
  job: Job;
  warnings: ConfigIssue[];
}

const JOB_HINTS: Readonly<Record<string, string>> = {
  kill_request: KILL_REQUEST_HINT,
  run_only_after_all_nodes_are_done_for:
    'documented by Bistro but never implemented in its code; ignored (use "depends_on" for per-node ordering)',
  filter: 'unknown key, ignored (did you mean "filters"?)',
};

/** Every configured resource (all levels, settings order) -> its default amount. */
export function defaultJobResources(settings: Settings): ResourceAmounts {
  const amounts: ResourceAmounts = {};
  for (const specs of Object.values(settings.resources)) {
    for (const [name, spec] of Object.entries(specs)) putEntry(amounts, name, spec.default);
  }
  return amounts;
}

/**
 * Parses one job. `allJobNames` are the jobs that exist beside it (for `depends_on`); a job
 * depending on itself gets a cycle error here, longer cycles need `withDependencyCycleErrors`.
 */
export function parseJob(
  settings: Settings,
  name: string,
  json: unknown,
  allJobNames: ReadonlySet<string> | Iterable<string>,
): JobParseResult {
  const path = `${JOB_PREFIX}${name}`;
  const sink = new IssueSink();
  const job = defaultJob(settings, name);
  if (name === "") sink.error(path, "job name is empty");
  const reader = ObjectReader.of(sink, json, path);
  let preexisting: ConfigIssue[] = [];
  if (reader) {
    // Given a set, use it as is: parseConfig passes one set for all its jobs (linear, not N^2).
    readJob(reader, settings, job, allJobNames instanceof Set ? allJobNames : new Set(allJobNames));
    preexisting = preexistingErrors(reader);
    reader.reportUnknownKeys(JOB_HINTS);
  }
  job.errors = capIssues(mergeIssues(preexisting, sink.errors));
  const checked = job.dependsOn.includes(name) ? (withDependencyCycleErrors({ [name]: job })[name] ?? job) : job;
  return { job: checked, warnings: sink.warnings };
}

function defaultJob(settings: Settings, name: string): Job {
  return {
    name,
    owner: "",
    enabled: true,
    priority: DEFAULT_PRIORITY,
    resources: defaultJobResources(settings),
    config: {},
    filters: {},
    levelForTasks: settings.levelForTasks,
    levelForHostPlacement: null,
    hostPlacement: null,
    backoff: copyBackoff(settings.backoff),
    dependsOn: [],
    killOrphanTasksAfterSec: settings.killOrphanTasksAfterSec,
    attemptDurationSec: null,
    taskSubprocess: copyTaskSubprocess(settings.taskSubprocess),
    killSubprocess: { ...settings.killSubprocess },
    command: [],
    createTime: null,
    modifyTime: null,
    versionId: null,
    errors: [],
  };
}

function readJob(reader: ObjectReader, settings: Settings, job: Job, allJobNames: ReadonlySet<string>): void {
  const { sink } = reader;
  const levels = settingsLevelTable(settings);
  job.enabled = reader.optional("enabled", BOOL, true);
  job.owner = reader.required("owner", STRING, "");
  if (reader.has("level_for_tasks")) {
    job.levelForTasks =
      readLevelName(sink, reader.take("level_for_tasks"), reader.at("level_for_tasks"), levels) ?? job.levelForTasks;
  }
  job.priority = reader.optional("priority", NUMBER, DEFAULT_PRIORITY);
  readResources(reader, job.resources);
  job.config = reader.optional("config", OBJECT, {});
  job.filters = readFilters(reader, levels);
  if (reader.has("level_for_host_placement")) {
    const path = reader.at("level_for_host_placement");
    job.levelForHostPlacement = readLevelName(sink, reader.take("level_for_host_placement"), path, levels) ?? null;
  }
  const host = reader.optional("host_placement", STRING, "");
  job.hostPlacement = host === "" ? null : host;
  if (reader.has("backoff"))
    job.backoff = parseBackoff(sink, reader.take("backoff"), reader.at("backoff")) ?? job.backoff;
  job.dependsOn = readDependsOn(reader, job.name, allJobNames);
  const createTime = reader.optional("create_time", INT, 0);
  job.createTime = createTime > 0 ? createTime : null;
  const modifyTime = reader.optional("modify_time", INT, 0);
  job.modifyTime = modifyTime > 0 ? modifyTime : null;
  job.killOrphanTasksAfterSec = readKillOrphanTasksAfter(reader, settings.killOrphanTasksAfterSec);
  if (reader.has("attempt_duration_seconds")) {
    job.attemptDurationSec = reader.optional("attempt_duration_seconds", ATTEMPT_DURATION_SECONDS, 0) || null;
  }
  job.taskSubprocess = readTaskSubprocess(reader, settings.taskSubprocess);
  job.killSubprocess = readKillRequest(reader, settings.killSubprocess);
  if (reader.has("command")) job.command = readStringArray(sink, reader.take("command"), reader.at("command")) ?? [];
  const versionId = reader.optional("version_id", INT, -1);
  job.versionId = versionId >= 0 ? versionId : null;
  const container = readContainer(reader);
  if (container) job.container = container;
}

/** The largest Fargate task: 16 vCPU, 120 GiB. */
export const CONTAINER_LIMITS = { cpu: 16_384, memoryMiB: 122_880 } as const;

/** Sous's `container` key: {task_definition, cpu?, memory?, role?} (docs/containers.md). */
function readContainer(reader: ObjectReader): ContainerSpec | undefined {
  const spec = reader.object("container");
  if (!spec) return undefined;
  const taskDefinition = spec.required("task_definition", STRING, "");
  if (spec.has("task_definition") && taskDefinition === "") {
    reader.sink.error(spec.at("task_definition"), "task_definition must name a task definition", taskDefinition);
  }
  const cpu = spec.optional("cpu", POSITIVE_INT, 0);
  const memoryMiB = spec.optional("memory", POSITIVE_INT, 0);
  const role = spec.optional("role", STRING, "");
  for (const [key, value, limit] of [
    ["cpu", cpu, CONTAINER_LIMITS.cpu],
    ["memory", memoryMiB, CONTAINER_LIMITS.memoryMiB],
  ] as const) {
    if (value > limit) reader.sink.error(spec.at(key), `${key} is at most ${limit} (a Fargate task's largest)`, value);
  }
  spec.reportUnknownKeys();
  return {
    taskDefinition,
    ...(cpu > 0 ? { cpu } : {}),
    ...(memoryMiB > 0 ? { memoryMiB } : {}),
    ...(role !== "" ? { role } : {}),
  };
}

function readResources(reader: ObjectReader, amounts: ResourceAmounts): void {
  const overrides = reader.object("resources");
  if (!overrides) return;
  const known = Object.keys(amounts);
  for (const [name, value] of Object.entries(overrides.value)) {
    overrides.has(name);
    const path = overrides.at(name);
    if (!Object.hasOwn(amounts, name)) {
      const list = known.length > 0 ? `configured resources are ${oneOf(known)}` : "no resources are configured";
      reader.sink.error(path, `unknown resource ${JSON.stringify(name)}; ${list}`, name);
      continue;
    }
    const amount = check(reader.sink, value, path, NON_NEGATIVE_INT);
    if (amount !== undefined) putEntry(amounts, name, amount);
  }
}

function readFilters(reader: ObjectReader, levels: ReturnType<typeof settingsLevelTable>): Record<string, JobFilter> {
  const filters: Record<string, JobFilter> = {};
  const byLevel = reader.object("filters");
  if (!byLevel) return filters;
  for (const [level, value] of Object.entries(byLevel.value)) {
    byLevel.has(level);
    const path = byLevel.at(level);
    if (!levels.known.has(level)) {
      reader.sink.error(path, unknownLevelMessage(level, levels), level);
      continue;
    }
    const filter = parseFilter(reader.sink, value, path);
    if (filter) putEntry(filters, level, filter);
  }
  return filters;
}

function readDependsOn(reader: ObjectReader, self: string, allJobNames: ReadonlySet<string>): string[] {
  if (!reader.has("depends_on")) return [];
  const path = reader.at("depends_on");
  const value = reader.take("depends_on");
  const names = readStringArray(reader.sink, value, path) ?? [];
  if (Array.isArray(value)) {
    (value as unknown[]).forEach((item, index) => {
      if (typeof item === "string" && item !== self && !allJobNames.has(item)) {
        // As in Bistro the job stays valid (its running tasks are no orphans) and waits until the job exists.
        reader.sink.warn(
          childPath(path, index),
          `unknown job ${JSON.stringify(item)}: this job starts no task until a job of that name exists`,
          item,
        );
      }
    });
  }
  return names;
}

/**
 * A non-empty `errors` key keeps a job invalid (Bistro's "Pre-existing errors"), so a job saved
 * with errors stays broken until someone removes them. Errors in Sous's own form (a list of
 * issues, as `serializeJob` writes them) are restored as they were, so a save-load cycle does
 * not nest them; anything else is kept whole as one issue.
 */
function preexistingErrors(reader: ObjectReader): ConfigIssue[] {
  if (!reader.has("errors")) return [];
  const value = reader.take("errors");
  if (isEmptyJson(value)) return [];
  if (Array.isArray(value) && value.every(isIssue)) {
    return value.map((issue) =>
      issue.value === undefined
        ? { path: issue.path, message: issue.message }
        : { path: issue.path, message: issue.message, value: issue.value },
    );
  }
  return [{ path: reader.at("errors"), message: "Pre-existing errors", value }];
}

function isEmptyJson(value: unknown): boolean {
  if (value === null || value === "") return true;
  if (Array.isArray(value)) return value.length === 0;
  return isPlainObject(value) && Object.keys(value).length === 0;
}

function isIssue(value: unknown): value is ConfigIssue {
  return isPlainObject(value) && typeof value.path === "string" && typeof value.message === "string";
}
