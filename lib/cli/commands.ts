// The `sous` commands that talk to the API: apply, jobs, tasks, nodes, workers, logs, kill and
// forgive. Each is a function of (context, arguments) that prints through the context's io and
// throws typed errors; main.ts turns those into messages and exit codes (io.ts).
import { parseConfig, formatIssue } from "../config";
import type { getConfigView, listJobs, replaceConfig } from "../api/config";
import type { listNodes } from "../api/nodes";
import type { forgiveJobs, forgiveTask, killTask, listTasks } from "../api/tasks";
import type { getLogs } from "../api/logs";
import { FollowCursor } from "../logs/follow";
import type { listWorkersRoute } from "../api/workers";
import { ApiHttpError, segment, type ApiClient } from "./client";
import { diffConfigs, formatDiff } from "../config/diff";
import { printJson, printTable, type CliIo } from "./io";
import { readConfigFile } from "./local";
import { UsageError } from "./usage-error";

export interface CommandContext {
  client: ApiClient;
  io: CliIo;
}

type Answer<F extends (...args: never[]) => unknown> = Awaited<ReturnType<F>>;
type ConfigView = Answer<typeof getConfigView>;
type TaskView = Answer<typeof listTasks>["tasks"][number];
type NodeView = Answer<typeof listNodes>["nodes"][number];
type LogLineView = Answer<typeof getLogs>["lines"][number];

const dash = (value: string | number | boolean | null | undefined) =>
  value === undefined || value === null || value === "" ? "-" : String(value);
const isoTime = (ms: number | undefined) => (ms === undefined ? "-" : new Date(ms).toISOString());

/** Reads every page of a paged listing (`nextCursor`), concatenating `key`. */
async function readAllPages<T>(
  read: (cursor: string | undefined) => Promise<{ nextCursor: string | null } & Record<string, unknown>>,
  key: string,
): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await read(cursor);
    items.push(...(page[key] as T[]));
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return items;
}

/** The stored config, or undefined before the first PUT. */
async function readStoredConfig(client: ApiClient): Promise<ConfigView | undefined> {
  try {
    return await client.request<ConfigView>("GET", "/config");
  } catch (error) {
    if (error instanceof ApiHttpError && error.status === 404) return undefined;
    throw error;
  }
}

export interface ApplyOptions {
  dryRun?: boolean;
  json?: boolean;
}

/**
 * `sous apply FILE`: validates locally (every problem, exit 2), then either prints the diff
 * against the stored config (--dry-run) or stores it over the version it read (If-Match), so a
 * change made meanwhile is a conflict (exit 3), not silently overwritten.
 */
export async function applyCommand(ctx: CommandContext, file: string, options: ApplyOptions): Promise<void> {
  const { client, io } = ctx;
  const document = readConfigFile(file);
  const stored = await readStoredConfig(client);
  const storedVersion = stored?.version ?? 0;
  if (options.dryRun) {
    const diff = diffConfigs(stored?.config ?? {}, document);
    const parsed = parseConfig(document);
    const invalidJobs = parsed.ok ? Object.values(parsed.config.jobs).filter((job) => job.errors.length > 0) : [];
    if (options.json) {
      printJson(io, {
        storedVersion,
        diff,
        invalidJobs: Object.fromEntries(invalidJobs.map((job) => [job.name, job.errors])),
      });
      return;
    }
    io.out(`Dry run against stored version ${storedVersion === 0 ? "(none)" : storedVersion}; nothing stored.`);
    for (const line of formatDiff(diff)) io.out(line);
    for (const job of invalidJobs) {
      io.out(`Job ${job.name} is invalid and would not run:`);
      for (const issue of job.errors) io.out(`  - ${formatIssue(issue)}`);
    }
    return;
  }
  let answer: Answer<typeof replaceConfig>;
  try {
    answer = await client.request<Answer<typeof replaceConfig>>("PUT", "/config", {
      body: document,
      headers: { "if-match": `"${storedVersion}"` },
    });
  } catch (error) {
    if (error instanceof ApiHttpError && error.status === 409) {
      throw new ApiHttpError(
        409,
        error.code,
        `The config changed while applying ${file} (it was at version ${storedVersion === 0 ? "none" : storedVersion}); nothing was stored. Run the command again to apply over the new version. (${error.message})`,
        error.issues,
      );
    }
    throw error;
  }
  if (options.json) {
    printJson(io, answer);
    return;
  }
  io.out(`Stored config version ${answer.version} (was ${storedVersion === 0 ? "none" : storedVersion}).`);
  for (const issue of answer.warnings) io.out(`warning: ${formatIssue(issue)}`);
  for (const [name, issues] of Object.entries(answer.invalidJobs)) {
    io.out(`Job ${name} is invalid and will not run:`);
    for (const issue of issues) io.out(`  - ${formatIssue(issue)}`);
  }
  for (const reason of answer.idleReasons) io.out(`note: nothing will run: ${reason}`);
}

export async function jobsCommand(ctx: CommandContext, options: { json?: boolean }): Promise<void> {
  const answer = await ctx.client.request<Answer<typeof listJobs>>("GET", "/jobs");
  if (options.json) {
    printJson(ctx.io, answer);
    return;
  }
  const rows = Object.entries(answer.jobs).map(([name, value]) => {
    const job = value as Record<string, unknown>;
    const errors = Array.isArray(job.errors) ? job.errors.length : 0;
    const cell = (key: string) => {
      const v = job[key];
      return typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? String(v) : "-";
    };
    return [name, cell("enabled"), cell("owner"), cell("priority"), cell("level_for_tasks"), String(errors)];
  });
  printTable(ctx.io, ["NAME", "ENABLED", "OWNER", "PRIORITY", "LEVEL", "ERRORS"], rows, "No jobs.");
}

export interface TasksOptions {
  job?: string[];
  node?: string;
  state?: string;
  json?: boolean;
}

export async function tasksCommand(ctx: CommandContext, options: TasksOptions): Promise<void> {
  const tasks = await readAllPages<TaskView>(
    (cursor) =>
      ctx.client.request("GET", "/tasks", {
        query: { job: options.job ?? [], node: options.node, state: options.state, cursor, limit: 1000 },
      }),
    "tasks",
  );
  if (options.json) {
    printJson(ctx.io, { tasks });
    return;
  }
  const rows = tasks.map((task) => [
    task.job,
    task.node,
    task.state,
    dash(task.running?.attempt ?? task.lastAttempt),
    dash(task.running?.worker),
    isoTime(task.running?.startedAtMs),
    task.label,
  ]);
  printTable(ctx.io, ["JOB", "NODE", "STATE", "ATTEMPT", "WORKER", "STARTED", "STATUS"], rows, "No tasks.");
}

export async function nodesCommand(ctx: CommandContext, options: { level?: string; json?: boolean }): Promise<void> {
  let levels: readonly string[] = [];
  const nodes = await readAllPages<NodeView>(async (cursor) => {
    const page = await ctx.client.request<Answer<typeof listNodes>>("GET", "/nodes", {
      query: { level: options.level, cursor, limit: 1000 },
    });
    levels = page.levels;
    return page;
  }, "nodes");
  if (options.json) {
    printJson(ctx.io, { levels, nodes });
    return;
  }
  const rows = nodes.map((node) => [
    node.name,
    node.level,
    dash(node.parent),
    String(node.enabled),
    node.tags.length > 0 ? node.tags.join(",") : "-",
  ]);
  printTable(ctx.io, ["NAME", "LEVEL", "PARENT", "ENABLED", "TAGS"], rows, "No nodes.");
}

export async function workersCommand(ctx: CommandContext, options: { json?: boolean }): Promise<void> {
  const answer = await ctx.client.request<Answer<typeof listWorkersRoute>>("GET", "/workers");
  if (options.json) {
    printJson(ctx.io, answer);
    return;
  }
  const rows = answer.workers.map((worker) => [
    worker.id,
    worker.state,
    worker.hostname,
    Object.keys(worker.resources).length > 0
      ? Object.entries(worker.resources)
          .map(([name, amount]) => `${name}=${amount}`)
          .join(",")
      : "-",
    isoTime(worker.heartbeatAtMs),
  ]);
  printTable(ctx.io, ["ID", "STATE", "HOSTNAME", "RESOURCES", "LAST HEARTBEAT"], rows, "No workers.");
}

export const LOG_TYPES = ["stdout", "stderr", "statuses"] as const;

export interface LogsOptions {
  type?: string;
  follow?: boolean;
  json?: boolean;
  /** --follow's polling period. Default 1000 ms. */
  pollMs?: number;
}

/**
 * `sous logs JOB NODE`: every line so far, oldest first, paging with the cursor; with --follow,
 * keeps polling from the line after the last one shown until interrupted.
 */
export async function logsCommand(ctx: CommandContext, job: string, node: string, options: LogsOptions): Promise<void> {
  const type = options.type ?? "stdout";
  if (!(LOG_TYPES as readonly string[]).includes(type)) {
    throw new UsageError(`--type takes ${LOG_TYPES.join(", ")}, not ${type}`);
  }
  const print = (line: LogLineView) => {
    if (options.json) ctx.io.out(JSON.stringify(line));
    else ctx.io.out(line.line.endsWith("\n") ? line.line.slice(0, -1) : line.line);
  };
  // Each poll re-reads a trailing window, so a line that became readable after newer ones is
  // still shown, and skips the lines it showed before (lib/logs/follow.ts).
  const position = new FollowCursor();
  const readToEnd = async () => {
    let cursor = position.start();
    for (;;) {
      const page = await ctx.client.request<Answer<typeof getLogs>>("GET", "/logs", {
        query: { job, node, type, sort: "asc", cursor },
      });
      for (const line of position.fresh(page.lines)) print(line);
      if (page.nextCursor === null) return;
      cursor = page.nextCursor;
    }
  };
  await readToEnd();
  if (!options.follow) return;
  const interrupted = { yes: false };
  let wake: (() => void) | undefined;
  const unsubscribe = ctx.io.onInterrupt(() => {
    interrupted.yes = true;
    wake?.();
  });
  const stopped = () => interrupted.yes;
  try {
    while (!stopped()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, options.pollMs ?? 1000);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (!stopped()) await readToEnd();
    }
  } finally {
    unsubscribe();
  }
}

export async function killCommand(
  ctx: CommandContext,
  job: string,
  node: string,
  options: { json?: boolean },
): Promise<void> {
  const answer = await ctx.client.request<Answer<typeof killTask>>(
    "POST",
    `/tasks/${segment(job)}/${segment(node)}/kill`,
  );
  if (options.json) {
    printJson(ctx.io, answer);
    return;
  }
  ctx.io.out(
    `Kill order sent: ${answer.job} ${answer.node} attempt ${answer.attempt} on worker ${answer.worker} ` +
      `(${answer.request.method}, wait ${answer.request.killWaitMs} ms).`,
  );
}

export async function forgiveCommand(
  ctx: CommandContext,
  job: string,
  node: string | undefined,
  options: { json?: boolean },
): Promise<void> {
  if (node !== undefined) {
    const answer = await ctx.client.request<Answer<typeof forgiveTask>>(
      "POST",
      `/tasks/${segment(job)}/${segment(node)}/forgive`,
    );
    if (options.json) printJson(ctx.io, answer);
    else ctx.io.out(answer.forgiven ? `Forgave ${job} ${node}.` : `Nothing to forgive for ${job} ${node}.`);
    return;
  }
  const answer = await ctx.client.request<Answer<typeof forgiveJobs>>("POST", `/jobs/${segment(job)}/forgive`);
  if (options.json) printJson(ctx.io, answer);
  else ctx.io.out(`Forgave ${answer.forgiven} task${answer.forgiven === 1 ? "" : "s"} of ${job}.`);
}
