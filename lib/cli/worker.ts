// `sous worker`: the worker daemon (lib/worker/daemon.ts) on any host, registered through the
// API (HttpControlPlane), receiving from its SQS queue, and writing task output to the S3 log
// bucket its registration names (worker-connection.ts; --log-bucket/--table or
// SOUS_LOG_BUCKET/SOUS_TABLE override it). The first SIGINT/SIGTERM stops it gracefully, a
// second kills its tasks now. It exits non-zero when it stops on its own (silence, rejected).
import { mkdirSync } from "node:fs";
import { homedir, hostname as machineHostname } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import type { ResourceAmounts } from "../model/config";
import { makeAwsClients } from "../aws";
import { callerUserId } from "../aws-identity";
import { LogWriter } from "../logs/writer";
import { startWorker, type WorkerEvent, type WorkerExit } from "../worker/daemon";
import { parseStartOrder, runOnce } from "../worker/once";
import { HttpControlPlane } from "../worker/http-control-plane";
import type { ApiClient } from "./client";
import { EXIT, type CliIo } from "./io";
import { UsageError } from "./usage-error";
import { WorkerConnection } from "./worker-connection";

export interface WorkerCommandOptions {
  command: string;
  /** Default `~/.sous/worker/<id>`. */
  dataDir?: string;
  resources?: ResourceAmounts;
  id?: string;
  hostname?: string;
  heartbeatPeriod?: number;
  logBucket?: string;
  table?: string;
  json?: boolean;
  /** SQS long-poll seconds (tests shorten it). Default the daemon's (20). */
  receiveWaitSec?: number;
  /** Run the one start order in SOUS_START_ORDER and exit (a container job's ECS task). */
  once?: boolean;
  /** Where cgroup2 is mounted. Default the daemon's (/sys/fs/cgroup). */
  cgroupRoot?: string;
  /** `--no-cgroups` sets it false. */
  cgroups?: boolean;
  taskPidsMax?: number;
}

/** `cpu=4,ram_gb=16` -> {cpu: 4, ram_gb: 16}. */
export function parseResources(text: string): ResourceAmounts {
  const amounts: ResourceAmounts = {};
  for (const part of text.split(",").filter((p) => p.trim() !== "")) {
    const match = /^\s*([^=\s]+)\s*=\s*(\d+)\s*$/.exec(part);
    if (!match?.[1] || match[2] === undefined) {
      throw new UsageError(`--resources takes name=amount,... with whole amounts, not ${JSON.stringify(part)}`);
    }
    Object.defineProperty(amounts, match[1], { value: Number(match[2]), enumerable: true });
  }
  return amounts;
}

function describeEvent(event: WorkerEvent): string | undefined {
  switch (event.type) {
    case "registered":
      return `registered as ${event.id} (instance ${event.instanceId}); queue ${event.queueUrl}; ${event.taskLimits}`;
    case "task_started":
      return `start  ${event.job}  ${event.node}  (attempt ${event.attempt})`;
    case "task_ended": {
      const { end } = event;
      const status = end.spawnError
        ? `failed to start: ${end.spawnError}`
        : (end.rawStatus ?? (end.killed ? "killed" : "no status"));
      return `end    ${end.job}  ${end.node}  -> ${status}`;
    }
    case "kill":
      return `kill   ${event.job}  ${event.node}  (${event.reason})`;
    case "heartbeat":
      return event.ok ? undefined : `heartbeat refused: ${event.reason ?? ""}`;
    case "warning":
      return `warning: ${event.message}`;
    case "heartbeat_error":
      return `heartbeat failed: ${event.error}`;
    case "stopping":
      return `stopping (${event.graceful ? "waiting for" : "killing"} ${event.running} running task(s))`;
    case "suicide":
      return `stopping on its own (${event.reason}): ${event.detail}`;
    case "exit":
      return `exited (${event.reason})${event.unsentEnds.length > 0 ? `; ${event.unsentEnds.length} task end(s) unsent` : ""}`;
    case "receive_error":
    case "delete_error":
    case "log_sink_error":
    case "malformed_message":
      return `${event.type}: ${event.error}`;
    default:
      return undefined;
  }
}

/** `--once`: runs the start order of SOUS_START_ORDER with the SOUS_* destinations the launcher set. */
async function onceCommand(io: CliIo, options: WorkerCommandOptions): Promise<void> {
  const order = parseStartOrder(io.env.SOUS_START_ORDER);
  const need = (name: string): string => {
    const value = io.env[name];
    if (!value) throw new UsageError(`sous worker --once: ${name} is not set (the container job launcher sets it)`);
    return value;
  };
  const statusQueueUrl = need("SOUS_STATUS_QUEUE_URL");
  const tableName = options.table ?? need("SOUS_TABLE");
  const bucket = options.logBucket ?? need("SOUS_LOG_BUCKET");
  const workerId = order.workerInstance ?? "sous-ecs-run-task";
  const dataDir = resolve(options.dataDir ?? join(homedir(), ".sous", "once"));
  mkdirSync(dataDir, { recursive: true });
  const aws = makeAwsClients({ env: io.env });
  const logOwner = await callerUserId({ env: io.env });
  const logs = new LogWriter({ s3: aws.s3, doc: aws.doc, tableName, bucket, workerId, logOwner });
  try {
    io.out(`${new Date().toISOString()}  start  ${order.job}  ${order.node}  (attempt ${order.attempt})`);
    const { end, sent } = await runOnce(
      { sqs: aws.sqs, logs, onStop: (kill) => io.onInterrupt(kill) },
      { order, command: resolve(options.command), dataDir, statusQueueUrl, workerId },
    );
    io.out(`${new Date().toISOString()}  end    ${end.job}  ${end.node}  -> ${end.rawStatus ?? "no status"}`);
    if (!sent) {
      io.err("sous worker --once: the status queue did not take the task's end");
      io.setExitCode(EXIT.unexpected);
    }
  } finally {
    aws.destroy();
  }
}

/** Runs the worker until it exits; returns its exit. */
export async function workerCommand(
  ctx: { client: ApiClient; io: CliIo },
  options: WorkerCommandOptions,
): Promise<WorkerExit | undefined> {
  const { client, io } = ctx;
  if (options.once) {
    await onceCommand(io, options);
    return undefined;
  }
  const command = resolve(options.command);
  if (!isAbsolute(command)) throw new UsageError(`--command must be a path: ${options.command}`);
  const host = options.hostname ?? machineHostname();
  const id = options.id ?? host;
  const dataDir = resolve(options.dataDir ?? join(homedir(), ".sous", "worker", id));
  mkdirSync(dataDir, { recursive: true });
  const connection = new WorkerConnection(
    new HttpControlPlane(async (path, body) => {
      const answer = await client.send("POST", path, { body });
      return { status: answer.status, body: answer.body };
    }),
    {
      workerId: id,
      tableName: options.table ?? (io.env.SOUS_TABLE || undefined),
      logBucket: options.logBucket ?? (io.env.SOUS_LOG_BUCKET || undefined),
      env: io.env,
    },
  );
  const { logs } = connection;
  const onEvent = (event: WorkerEvent) => {
    if (options.json) {
      io.out(JSON.stringify(event));
    } else {
      const text = describeEvent(event);
      if (text !== undefined) io.out(`${new Date().toISOString()}  ${text}`);
    }
  };
  try {
    const handle = await startWorker(
      { controlPlane: connection, sqs: connection.sqs, logs, onEvent },
      {
        id,
        command,
        dataDir,
        hostname: host,
        ...(options.resources ? { resources: options.resources } : {}),
        ...(options.heartbeatPeriod !== undefined ? { heartbeatPeriodSec: options.heartbeatPeriod } : {}),
        ...(options.receiveWaitSec !== undefined ? { receiveWaitSec: options.receiveWaitSec } : {}),
        ...(options.cgroups === false
          ? { cgroupRoot: null }
          : options.cgroupRoot !== undefined
            ? { cgroupRoot: resolve(options.cgroupRoot) }
            : {}),
        ...(options.taskPidsMax !== undefined ? { taskPidsMax: options.taskPidsMax } : {}),
      },
    );
    let interrupts = 0;
    const unsubscribe = io.onInterrupt((signal) => {
      interrupts++;
      if (interrupts === 1) {
        io.err(`sous worker: ${signal}: stopping after running tasks finish (again to kill them now)`);
        void handle.stop({ graceful: true });
      } else {
        io.err(`sous worker: ${signal}: killing running tasks now`);
        void handle.stop({ graceful: false });
      }
    });
    const exit = await handle.done;
    unsubscribe();
    if (exit.reason !== "stopped") {
      io.err(`sous worker: the worker stopped on its own (${exit.reason}): ${exit.detail}`);
      io.setExitCode(EXIT.unexpected);
    }
    return exit;
  } finally {
    await logs.close();
    connection.destroy();
  }
}
