// `sous local` (and `npm start`): runs a whole Sous deployment on this machine and prints what
// happens. With no arguments it replays Bistro's first run: the `simple` config and the demo
// task script, 4 tasks under an instance-wide concurrency limit of 3.
import { readFileSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { parseConfig, formatIssue, idleReasons } from "../config";
import { DEFAULT_CONFIG_UPDATE_MS } from "../local/config-file";
import { startLocalDeployment, type LocalDeployment } from "../local/deployment";
import { BISTRO_WORKER_TIMINGS } from "../scheduler/worker-health";
import { BISTRO_NODE_TIMINGS } from "../round/node-refresh";
import type { RoundReport } from "../round/round-types";
import { getConfig } from "../store/config-store";
import { readJobsWithTasks, readTasks } from "../store/tasks";
import type { WorkerEvent } from "../worker/daemon";
import { UsageError } from "./usage-error";

const REPO = join(__dirname, "..", "..");
export const DEMO_CONFIG = join(REPO, "events", "bistro", "simple.json");
export const DEMO_TASK = join(REPO, "events", "bistro", "demo_bistro_task.sh");

export interface LocalCommandOptions {
  config?: string;
  workerCommand?: string;
  workers: number;
  port: number;
  /** Web UI port; false for no UI. */
  ui: number | false;
  dataDir?: string;
  name: string;
  exitWhenDone?: boolean;
  json?: boolean;
  /** Bistro's scheduler flags for worker health (seconds). */
  heartbeatGracePeriod?: number;
  loseUnhealthyWorkerAfter?: number;
  /** How often --config is read again (ms); edits apply like PUT /config. */
  configUpdateMs?: number;
  /** Nodes refresh period and retry (ms). */
  nodesUpdateMs?: number;
  nodesRetryMs?: number;
}

function time(): string {
  return new Date().toISOString().slice(11, 23);
}

/** Reads and validates a config file, naming every problem. */
export function readConfigFile(path: string): Record<string, unknown> {
  return JSON.parse(readConfigText(path)) as Record<string, unknown>;
}

/** The text of a config file, validated (every problem named). */
function readConfigText(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new UsageError(`Cannot read config file ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const parsed = parseConfig(text);
  if (!parsed.ok) {
    throw new UsageError(
      `Config file ${path} is invalid:\n${parsed.errors.map((e) => `  - ${formatIssue(e)}`).join("\n")}`,
    );
  }
  return text;
}

/** Counts of task items by state, over every job that has tasks. */
async function taskCounts(deployment: LocalDeployment): Promise<Record<string, number>> {
  const jobs = await readJobsWithTasks(deployment.store);
  const counts: Record<string, number> = {};
  for (const task of await readTasks(deployment.store, jobs)) counts[task.state] = (counts[task.state] ?? 0) + 1;
  return counts;
}

/**
 * Whether a round saw nothing running and nothing it could start (the demo may then be done). A
 * round that merely started nothing is not enough: it may have seen tasks running, whose ends the
 * counts read after it would show, before the next round starts the tasks waiting for room.
 */
export function roundLeftNothingToRun(report: RoundReport): boolean {
  const { running, runnablePending } = report.backlog;
  return report.started.length === 0 && running === 0 && runnablePending === 0;
}

function summarize(counts: Record<string, number>): string {
  const parts = Object.entries(counts).map(([state, n]) => `${n} ${state}`);
  return parts.length > 0 ? parts.join(", ") : "no tasks";
}

export async function runLocal(options: LocalCommandOptions, print: (line: string) => void): Promise<void> {
  const configPath = options.config ?? (options.workerCommand ? undefined : DEMO_CONFIG);
  const configText = configPath ? readConfigText(configPath) : undefined;
  const document = configText === undefined ? undefined : (JSON.parse(configText) as Record<string, unknown>);
  const command = resolve(options.workerCommand ?? DEMO_TASK);
  if (!isAbsolute(command)) throw new UsageError(`--worker-command must be a path: ${command}`);
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "sous-local-"));

  const workerEvent = (worker: string, event: WorkerEvent) => {
    if (options.json) {
      print(JSON.stringify({ worker, ...event }));
    } else if (event.type === "task_started") {
      print(`${time()}  start  ${event.job}  ${event.node}  on ${worker}  (attempt ${event.attempt})`);
    } else if (event.type === "task_ended") {
      const { end } = event;
      const status = end.spawnError
        ? `failed to start: ${end.spawnError}`
        : (end.rawStatus ?? (end.killed ? "killed" : "no status"));
      print(`${time()}  end    ${end.job}  ${end.node}  -> ${status}`);
    }
  };
  let lastReasons = "";
  let finished: () => void = () => undefined;
  const allDone = new Promise<void>((r) => (finished = r));
  // Rounds report before startLocalDeployment returns; they see the deployment once it exists.
  const started: { deployment?: LocalDeployment } = {};
  const deployment = await startLocalDeployment({
    name: options.name,
    workers: options.workers,
    workerCommand: command,
    dataDir,
    instanceName: "scheduler",
    port: options.port,
    ...(options.ui !== false ? { uiPort: options.ui } : {}),
    ...(document ? { config: document } : {}),
    ...(options.heartbeatGracePeriod !== undefined || options.loseUnhealthyWorkerAfter !== undefined
      ? {
          workerTimings: {
            ...BISTRO_WORKER_TIMINGS,
            ...(options.heartbeatGracePeriod !== undefined ? { heartbeatGraceSec: options.heartbeatGracePeriod } : {}),
            ...(options.loseUnhealthyWorkerAfter !== undefined
              ? { loseUnhealthyAfterSec: options.loseUnhealthyWorkerAfter }
              : {}),
          },
        }
      : {}),
    // Only a file the user named is watched (the demo's is not theirs to edit).
    ...(options.config && configText !== undefined
      ? {
          configFile: {
            path: options.config,
            intervalMs: options.configUpdateMs ?? DEFAULT_CONFIG_UPDATE_MS,
            initialText: configText,
          },
        }
      : {}),
    onConfigFile: (event) => {
      if (event.error) print(`${time()}  config ${event.path} refused, the running config stays:\n${event.error}`);
      else print(`${time()}  config ${event.path} applied as version ${event.version ?? "?"}`);
    },
    nodeTimings: {
      updateMs: options.nodesUpdateMs ?? BISTRO_NODE_TIMINGS.updateMs,
      retryMs: options.nodesRetryMs ?? BISTRO_NODE_TIMINGS.retryMs,
    },
    onWorkerEvent: workerEvent,
    onRound: (report) => {
      const reasons = report.reasons.map((r) => (r.job ? `${r.job}: ${r.message}` : r.message)).join("; ");
      if (reasons && reasons !== lastReasons && !options.json) print(`${time()}  note   ${reasons}`);
      lastReasons = reasons;
      if (roundLeftNothingToRun(report) && started.deployment) {
        void taskCounts(started.deployment).then((counts) => {
          if ((counts.done ?? 0) > 0 && !counts.running && !counts.backoff) finished();
        });
      }
    },
  });

  started.deployment = deployment;
  const stored = await getConfig(deployment.store);
  if (!options.json) {
    if (stored) print(`Config ${configPath ?? "(already stored)"} is version ${stored.version}.`);
    else print("No config stored yet: use `sous apply FILE` or PUT /config.");
    const parsed = stored ? parseConfig(stored.document) : undefined;
    if (parsed?.ok) for (const reason of idleReasons(parsed.config)) print(`note: ${reason}`);
  }
  if (!options.json) {
    const where = Object.entries(deployment.endpoints)
      .map(([service, url]) => `${service} ${url}`)
      .join(", ");
    print(`Sous local is running: ${options.workers} worker(s) running ${command}; ${where || "AWS"}.`);
    if (deployment.uiUrl) print(`Web UI: ${deployment.uiUrl}   <- open this in a browser`);
    print(`API: ${deployment.apiUrl}   Task directories: ${dataDir}   Ctrl-C stops everything.`);
    print(`Try: curl -d '{"a":{"handler":"jobs"},"b":{"handler":"running_tasks"}}' ${deployment.apiUrl}/`);
  }

  const stop = new Promise<string>((resolveStop) => {
    process.once("SIGINT", () => {
      resolveStop("interrupted");
    });
    process.once("SIGTERM", () => {
      resolveStop("terminated");
    });
  });
  if (!options.exitWhenDone && !options.json) {
    void allDone.then(async () => {
      print(`${time()}  All runnable tasks have finished: ${summarize(await taskCounts(deployment))}.`);
      print("Sous keeps running (submit more work, or Ctrl-C to stop).");
    });
  }
  const outcome = await Promise.race([stop, options.exitWhenDone ? allDone.then(() => "done") : stop]);
  if (!options.json) {
    const counts = await taskCounts(deployment);
    const summary = Object.entries(counts)
      .map(([state, n]) => `${n} ${state}`)
      .join(", ");
    print(
      outcome === "done" ? `All runnable tasks have finished: ${summary}.` : `Stopping (${summary || "no tasks"})...`,
    );
  }
  await deployment.stop();
}
