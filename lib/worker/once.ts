// `sous worker --once`: the entry point of a container job's ECS task. It runs the one start
// order it was given (lib/dispatch/run-task.ts puts it in the environment) exactly as a worker
// runs a task (`runTask`: argv, status pipe, task JSON, kill request, parent-death signal),
// streams its output to the same S3 logs, sends its end to the same status queue, and exits.
// SIGTERM (ECS StopTask, a scale-in) kills the task its job's way; the end then says killed.
// The job's maximum runtime applies as on a worker (the end says timed out), and the `statuses`
// log stream gets the attempt's lifecycle.
import type { SQSClient } from "@aws-sdk/client-sqs";
import { startMessageSchema, type StartMessage, type TaskEnd } from "../dispatch/messages";
import { sendBatched } from "../dispatch/sqs";
import type { KillRequest } from "../model/config";
import { timeoutKillWaitMs, type LogSink } from "./daemon";
import { EndSender } from "./end-sender";
import { endOfTask } from "./task-ends";
import { runTask } from "./task-process";
import { TaskStatusLog } from "./task-statuses";

/** SIGTERM-to-SIGKILL wait past the maximum runtime when the job's kill request names none. */
const DEFAULT_TIMEOUT_KILL_WAIT_MS = 5000;

export interface OnceOptions {
  order: StartMessage;
  /** The worker's `--command`, for jobs without a command of their own. */
  command: string;
  dataDir: string;
  statusQueueUrl: string;
  /** Recorded as the end's worker: the launcher's id, which the round recorded for the attempt. */
  workerId: string;
  /** How long to keep retrying the end. Default 60 s. */
  endDrainTimeoutMs?: number;
  baseEnv?: NodeJS.ProcessEnv;
}

export interface OnceDeps {
  sqs: SQSClient;
  logs: LogSink;
  clock?: () => number;
  /** Calls `kill` when the process is asked to stop; returns an unsubscribe. */
  onStop?: (kill: () => void) => () => void;
  /** Told when writing a `statuses` line fails (the task goes on). */
  onLogError?: (error: string) => void;
}

/** The start order from its JSON (the `SOUS_START_ORDER` variable), or an error naming what is wrong. */
export function parseStartOrder(text: string | undefined): StartMessage {
  if (!text) throw new Error("SOUS_START_ORDER is not set: --once runs the start order it is given there");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`SOUS_START_ORDER is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  const parsed = startMessageSchema.safeParse(value);
  if (!parsed.success) throw new Error(`SOUS_START_ORDER is not a start order: ${parsed.error.message}`);
  return parsed.data;
}

/** Runs the order's task to its end and reports it. Resolves with the end and whether SQS took it. */
export async function runOnce(deps: OnceDeps, options: OnceOptions): Promise<{ end: TaskEnd; sent: boolean }> {
  const { order } = options;
  const clock = deps.clock ?? Date.now;
  const { job, node, attempt } = order;
  const tokened = { job, node, attempt, token: order.token };
  const statusLog = new TaskStatusLog(
    deps.logs,
    {
      workerHost: options.workerId,
      workerId: options.workerId,
      workerInstance: order.workerInstance ?? options.workerId,
    },
    clock,
    deps.onLogError ?? (() => undefined),
  );
  const handle = runTask({
    jobName: job,
    nodeName: node,
    jobJson: JSON.stringify(order.taskJson),
    jobCommand: order.command,
    workerCommand: options.command,
    attempt,
    workerId: options.workerId,
    dataDir: options.dataDir,
    subprocess: {
      pollMs: order.pollMs,
      maxLogLinesPerPollInterval: order.maxLogLinesPerPollInterval,
      useCanaryPipe: true,
      parentDeathSignal: order.parentDeathSignal ?? 9,
    },
    onOutput: (stream, lines, timeMs) => deps.logs.appendLines(tokened, stream, lines, timeMs),
    ...(order.maxRuntimeMs === undefined
      ? {}
      : {
          maxRuntimeMs: order.maxRuntimeMs,
          timeoutKillWaitMs: timeoutKillWaitMs(order, DEFAULT_TIMEOUT_KILL_WAIT_MS),
        }),
    now: clock,
    ...(options.baseEnv ? { baseEnv: options.baseEnv } : {}),
  });
  statusLog.write(order, { event: "running", command: order.command.length > 0 ? order.command : [options.command] });
  const killRequest: KillRequest = order.killRequest;
  const unsubscribe = deps.onStop?.(() => {
    statusLog.write(order, { event: "killed", request: killRequest, reason: "the ECS task was asked to stop" });
    handle.kill(killRequest);
  });
  const result = await handle.result;
  unsubscribe?.();
  statusLog.ended(order, result);
  deps.logs.endTask?.({ job, node, attempt });
  // The token proves to status ingest that this task holds the attempt.
  const end = endOfTask(order, result, options.workerId);
  // Output first: the status that makes the task done should find its logs already stored.
  await deps.logs.flush();
  await deps.logs.close();
  const sender = new EndSender({
    queueUrl: options.statusQueueUrl,
    send: (url, bodies) => sendBatched(deps.sqs, url, bodies),
    windowMs: 0,
  });
  sender.add(end);
  const sent = await sender.drain(options.endDrainTimeoutMs ?? 60_000);
  sender.stop();
  return { end, sent };
}
