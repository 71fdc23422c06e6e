// Bistro's HTTP monitor protocol: `POST /` with a JSON object of named
// subqueries `{"name": {"handler": ..., ...params}}` (a top-level `prefs` is ignored), answered
// with HTTP 200 and `{"name": {"data": ...}}` or `{"name": {"error": "..."}}` per subquery. A
// body that is not a JSON object, or no stored config, makes the whole answer one JSON string.
// Subqueries run one after another against one snapshot of the config (and of nodes and tasks,
// read once), so existing Bistro clients and its web UI work unchanged.
import { formatIssue, idleReasons, serializeJob } from "../config";
import { isPlainObject } from "../config/issues";
import { jsonDepthProblem } from "../config/limits";
import type { Config, Job } from "../model/config";
import { deleteJob, saveJob } from "./config";
import type { ApiDeps, LogLinesQuery } from "./deps";
import { mapError, NotConfiguredError, publicMessage, ValidationError } from "./errors";
import { jobHistogram, MONITOR_SAMPLES, type HistogramTask } from "./histogram";
import { checkLogQueryLists } from "./logs";
import { ApiView, NO_CONFIG_MESSAGE, readCurrentConfig, readRefreshMark } from "./state";
import { forgiveJobs, killTask } from "./tasks";

export type BistroSubanswer = { data: unknown } | { error: string };
/** Per-subquery answers, or one string when the whole request failed. */
export type BistroAnswer = Record<string, BistroSubanswer> | string;

export type BistroBody = { ok: true; queries: [name: string, query: unknown][] } | { ok: false; error: string };

/** The named subqueries of a body (raw text or parsed JSON), without `prefs`. */
export function parseBistroBody(body: unknown): BistroBody {
  let value = body;
  if (typeof body === "string") {
    // A value nested past the limit would overflow recursive code after parsing: refuse first.
    const tooDeep = jsonDepthProblem(body);
    if (tooDeep) return { ok: false, error: tooDeep };
    try {
      value = JSON.parse(body) as unknown;
    } catch (error) {
      return { ok: false, error: `Invalid JSON body: ${error instanceof Error ? error.message : String(error)}` };
    }
  }
  if (!isPlainObject(value)) {
    return { ok: false, error: 'The body must be a JSON object of named queries, e.g. {"a": {"handler": "jobs"}}' };
  }
  return { ok: true, queries: Object.entries(value).filter(([name]) => name !== "prefs") };
}

/**
 * Runs subqueries in order; each answer is `{data}` or `{error}` with the error's public message
 * (an unexpected error is reported to `onInternalError` and shown as a generic message).
 */
export async function runBistroQueries(
  queries: readonly [string, unknown][],
  run: (query: unknown) => Promise<unknown>,
  onInternalError: (name: string, error: unknown) => void = () => undefined,
): Promise<Record<string, BistroSubanswer>> {
  const answers: [string, BistroSubanswer][] = [];
  for (const [name, query] of queries) {
    try {
      answers.push([name, { data: await run(query) }]);
    } catch (error) {
      if (mapError(error).internal) onInternalError(name, error);
      answers.push([name, { error: publicMessage(error) }]);
    }
  }
  return Object.fromEntries(answers);
}

type Query = Record<string, unknown>;
type Handler = (view: ApiView, query: Query) => Promise<unknown>;

function stringList(query: Query, key: string): string[] {
  const value = query[key];
  if (value === undefined || value === null) return [];
  // Bistro's clients (PHP) send an empty list as `{}`, and Bistro iterates it as nothing.
  if (isPlainObject(value) && Object.keys(value).length === 0) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
    throw new ValidationError(`"${key}" must be a list of strings`);
  }
  return value;
}

function requiredString(query: Query, key: string): string {
  const value = query[key];
  if (typeof value !== "string") throw new ValidationError(`"${key}" is required: a string`);
  return value;
}

/** An integer given as a number or a decimal string (folly's asInt accepts both). */
function optionalInt(query: Query, key: string): number | undefined {
  const value = query[key];
  if (value === undefined || value === null) return undefined;
  const number = typeof value === "string" && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof number !== "number" || !Number.isSafeInteger(number)) {
    throw new ValidationError(`"${key}" must be an integer`);
  }
  return number;
}

/** Bistro's getRequestedJobs: the named jobs that exist (unknown ignored), or all when none are named. */
function requestedJobs(config: Config, query: Query): Job[] {
  const names = stringList(query, "jobs");
  if (names.length === 0) return Object.values(config.jobs);
  return names.flatMap((name) => (Object.hasOwn(config.jobs, name) ? [config.jobs[name] as Job] : []));
}

/** Running task items of the named jobs (any name, current or not), or of every job. */
async function runningTasks(view: ApiView, query: Query) {
  const names = [...new Set(stringList(query, "jobs"))];
  const jobs = names.length > 0 ? names : await view.jobsWithItems();
  return (await view.tasksOf(jobs)).filter((task) => task.running);
}

function appendTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** `{job: {node: value}}` built safely from user-chosen names. */
function byJobAndNode<T>(
  entries: readonly { job: string; node: string; value: T }[],
): Record<string, Record<string, T>> {
  const jobs = new Map<string, [string, T][]>();
  for (const { job, node, value } of entries) appendTo(jobs, job, [node, value]);
  return Object.fromEntries([...jobs].map(([job, nodes]) => [job, Object.fromEntries(nodes)]));
}

/** Bistro's per-node resource view: the level's resources with their default amount and limit. */
function levelResources(config: Config, level: string) {
  const specs = Object.hasOwn(config.settings.resources, level) ? config.settings.resources[level] : undefined;
  return Object.fromEntries(
    Object.entries(specs ?? {}).map(([name, spec]) => [
      name,
      { default: spec.default, limit: spec.limit, ...(spec.weight > 0 ? { weight: spec.weight } : {}) },
    ]),
  );
}

const nowSec = (deps: ApiDeps) => Math.floor(deps.clock() / 1000);

const HANDLERS: Readonly<Record<string, Handler>> = {
  jobs: (view, query) =>
    Promise.resolve(Object.fromEntries(requestedJobs(view.config, query).map((job) => [job.name, serializeJob(job)]))),

  running_tasks: async (view, query) =>
    byJobAndNode(
      (await runningTasks(view, query)).map((task) => ({
        job: task.job,
        node: task.node,
        value: {
          start_time: Math.floor((task.running?.startedAtMs ?? 0) / 1000),
          worker_shard: task.running?.worker ?? "",
        },
      })),
    ),

  job_node_runtime: async (view, query) => {
    const now = nowSec(view.deps);
    return byJobAndNode(
      (await runningTasks(view, query)).map((task) => ({
        job: task.job,
        node: task.node,
        value: now - Math.floor((task.running?.startedAtMs ?? 0) / 1000),
      })),
    );
  },

  histogram: async (view, query) => {
    const numSamples = optionalInt(query, "num_samples") ?? 0;
    if (numSamples < 0) throw new ValidationError('"num_samples" must be >= 0');
    // Like Bistro's monitor, invalid jobs have no histogram.
    const jobs = requestedJobs(view.config, query).filter((job) => job.errors.length === 0);
    const tree = await view.nodeTree();
    const now = view.deps.clock() / 1000;
    const histograms: [string, unknown][] = [];
    const samples: [string, unknown][] = [];
    for (const job of jobs) {
      const tasks = new Map<string, HistogramTask>(
        (await view.tasksOf([job.name])).map((item) => [
          item.node,
          { running: item.running !== undefined, ...(item.status ? { status: item.status } : {}) },
        ]),
      );
      const histogram = jobHistogram(tree, job, tasks, now);
      histograms.push([job.name, histogram.counts]);
      const kept = Math.min(numSamples, MONITOR_SAMPLES);
      samples.push([
        job.name,
        Object.fromEntries(
          Object.entries(histogram.samples).map(([level, byCode]) => [
            level,
            Object.fromEntries(Object.entries(byCode).map(([code, names]) => [code, names.slice(0, kept)])),
          ]),
        ),
      ]);
    }
    return {
      histograms: Object.fromEntries(histograms),
      ...(numSamples > 0 ? { samples: Object.fromEntries(samples) } : {}),
    };
  },

  task_logs: async (view, query) => {
    if (query.columns !== undefined) throw new ValidationError("Custom columns are currently not supported.");
    const readLogs = view.deps.readLogs;
    if (!readLogs) throw new NotConfiguredError("Task logs are not configured in this deployment (no log bucket).");
    const time = optionalInt(query, "time");
    const lineId = query.line_id;
    const regex = query.regex_filter;
    const sort = query.sort;
    if (lineId !== undefined && typeof lineId !== "string" && typeof lineId !== "number") {
      throw new ValidationError('"line_id" must be a decimal string');
    }
    const logQuery: LogLinesQuery = {
      logType: requiredString(query, "log_type"),
      jobs: stringList(query, "jobs"),
      nodes: stringList(query, "nodes"),
      ...(typeof sort === "string" ? { sort } : {}),
      ...(time !== undefined ? { time } : {}),
      ...(lineId !== undefined ? { lineId: String(lineId) } : {}),
      ...(typeof regex === "string" ? { regexFilter: regex } : {}),
    };
    checkLogQueryLists(logQuery);
    const page = await readLogs(logQuery);
    return { next_line_id: page.nextLineId, lines: page.lines };
  },

  nodes: async (view, query) => {
    const names = new Set(stringList(query, "nodes"));
    const fields = stringList(query, "fields");
    for (const field of fields) {
      if (field !== "resources" && field !== "disabled") throw new ValidationError(`Unknown field name: ${field}`);
    }
    const withResources = fields.length === 0 || fields.includes("resources");
    const withDisabled = fields.length === 0 || fields.includes("disabled");
    const tree = await view.nodeTree();
    const resourcesOf = tree.levels.map((level) => levelResources(view.config, level));
    const levels = new Map<string, [string, unknown][]>();
    for (let node = 0; node < tree.size; node++) {
      const name = tree.names.at(node);
      if (names.size > 0 && !names.has(name)) continue;
      const levelIndex = tree.levelOf[node] ?? 0;
      const level = tree.levels[levelIndex] ?? "";
      const entry = {
        ...(withResources ? { resources: resourcesOf[levelIndex] ?? {} } : {}),
        ...(withDisabled && tree.enabled[node] !== 1 ? { disabled: true } : {}),
      };
      appendTo(levels, level, [name, entry]);
    }
    return { results: Object.fromEntries([...levels].map(([level, nodes]) => [level, Object.fromEntries(nodes)])) };
  },

  sorted_node_names: async (view) => {
    const tree = await view.nodeTree();
    const levels = new Map<string, string[]>();
    for (let node = 0; node < tree.size; node++) {
      const level = tree.levels[tree.levelOf[node] ?? 0] ?? "";
      appendTo(levels, level, tree.names.at(node));
    }
    return Object.fromEntries(levels);
  },

  errors: async (view) => {
    const errors: [string, string][] = [];
    for (const job of Object.values(view.config.jobs)) {
      if (job.errors.length > 0) errors.push([`Job ${job.name}`, job.errors.map(formatIssue).join(".\n")]);
    }
    const idle = idleReasons(view.config);
    if (idle.length > 0) errors.push(["Scheduler", idle.join(".\n")]);
    const mark = await readRefreshMark(view.deps);
    if (mark?.error) {
      const kept = mark.setVersion !== null ? " (the last good node set is used)" : "";
      errors.push(["Nodes", `Nodes refresh failed${kept}: ${mark.error}`]);
    } else {
      try {
        await view.nodeTree();
      } catch (error) {
        errors.push(["Nodes", publicMessage(error)]);
      }
    }
    const problems = view.deps.nodeSources?.problems() ?? [];
    if (problems.length > 0) errors.push(["Node sources", problems.join(".\n")]);
    return Object.fromEntries(errors);
  },

  // The unix time of the last successful nodes refresh (0 before the first).
  refresh_time: async (view) => {
    const mark = await readRefreshMark(view.deps);
    return mark?.refreshedAtMs ? Math.floor(mark.refreshedAtMs / 1000) : 0;
  },

  forgive_jobs: async (view, query) => {
    await forgiveJobs(view.deps, view.config, stringList(query, "jobs"));
    return "forgiven";
  },

  kill_task: async (view, query) => {
    // `status_filter` is ignored, as in Bistro.
    await killTask(view.deps, view.config, requiredString(query, "job_id"), requiredString(query, "node_id"));
    return "signaled";
  },

  save_job: async (view, query) => {
    await saveJob(view.deps, requiredString(query, "job_id"), query.job);
    return "saved";
  },

  delete_job: async (view, query) => {
    await deleteJob(view.deps, requiredString(query, "job_id"));
    return "deleted";
  },
};

export const BISTRO_HANDLERS: readonly string[] = Object.keys(HANDLERS);

function runHandler(view: ApiView, query: unknown): Promise<unknown> {
  if (!isPlainObject(query)) throw new ValidationError('A query must be an object with a "handler"');
  const name = query.handler;
  if (typeof name !== "string") throw new ValidationError('The query has no "handler"');
  const handler = Object.hasOwn(HANDLERS, name) ? HANDLERS[name] : undefined;
  if (!handler) throw new ValidationError(`Unknown handler: ${name}`);
  return handler(view, query);
}

/** Answers a Bistro request body (raw text). Never throws for a bad request: errors are answers. */
export async function answerBistro(deps: ApiDeps, body: unknown): Promise<BistroAnswer> {
  const parsed = parseBistroBody(body);
  if (!parsed.ok) return parsed.error;
  let current;
  try {
    current = await readCurrentConfig(deps);
  } catch (error) {
    if (mapError(error).internal) deps.log?.({ event: "bistro-config-read-failed", error: String(error) });
    return publicMessage(error);
  }
  if (!current) return NO_CONFIG_MESSAGE;
  const view = new ApiView(deps, current);
  return runBistroQueries(
    parsed.queries,
    (query) => runHandler(view, query),
    (name, error) => {
      deps.log?.({
        event: "bistro-query-failed",
        query: name,
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      });
    },
  );
}
