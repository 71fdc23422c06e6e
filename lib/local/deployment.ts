// `sous local`: a whole Sous deployment in one process, against the embedded emulators (or
// whatever the endpoint variables point at, e.g. LocalStack). It creates the table, queues
// and bucket, runs scheduling rounds on pokes and on Bistro's idle/working timer, ingests
// statuses from the status queue, runs N workers with the S3 log writer, and serves the API
// on 127.0.0.1.
import { mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, BucketAlreadyOwnedByYou } from "@aws-sdk/client-s3";
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
} from "@aws-sdk/client-sqs";
import { makeApi, type ApiDeps } from "../api";
import { replaceConfig } from "../api/config";
import { s3LogReader } from "../api/logs";
import { makeAwsClients, makeRdsClient, resolveEndpoint, type AwsClients } from "../aws";
import { deploymentNodeSources } from "../nodes/deployment-sources";
import { LogWriter } from "../logs/writer";
import type { ResourceAmounts } from "../model/config";
import { createScriptSource } from "../nodes";
import { ingestStatuses } from "../round/apply-statuses";
import { requestRound, type RoundTrigger } from "../round/poke";
import { runRounds, type RoundDeps, type RoundReport } from "../round/run-round";
import { s3CheckpointStore } from "../round/checkpoint";
import { roundStatusLog } from "../round/round-status-log";
import { sqsRoundWaker } from "../round/wake-sqs";
import type { WorkerTimings } from "../scheduler/worker-health";
import type { StoreContext } from "../store/context";
import { getCurrentConfigVersion, putConfig } from "../store/config-store";
import { ensureTable } from "../store/table";
import { InProcessControlPlane, type WorkerSetup } from "../worker/control-plane";
import { startWorker, type WorkerEvent, type WorkerHandle } from "../worker/daemon";
import { serveUi, type UiServer } from "../ui/server";
import type { NodeRefreshTimings } from "../round/node-refresh";
import { serveApi } from "./api-server";
import { watchConfigFile, type ConfigFilePoller } from "./config-file";
import { startEmulators, type RunningEmulators } from "./emulators";

export interface LocalOptions {
  /** Resource names; distinct per deployment so several can share one emulator. */
  name: string;
  workers: number;
  /** The worker command (Bistro's --worker_command) for jobs without a `command`. */
  workerCommand: string;
  /** Task working directories and worker state live under here. */
  dataDir: string;
  workerResources?: ResourceAmounts;
  /** Name of the instance node (Bistro's --instance_node_name). */
  instanceName?: string;
  /** A Bistro config document to store (as a new version) before the first round. */
  config?: Record<string, unknown>;
  /** API port on 127.0.0.1 (0 = any free port). */
  port: number;
  /** Web UI port on 127.0.0.1 (0 = any free port); no UI when absent. */
  uiPort?: number;
  /** Browser origins besides the API's own that may change state (e.g. a UI served on another port). */
  allowedOrigins?: readonly string[];
  /** Start rounds on pokes (default true); false leaves only the timer, for comparisons. */
  pokes?: boolean;
  /** Start the embedded emulators for services with no endpoint variable set (default true). */
  embedded?: boolean;
  /** Worker health timings (Bistro's scheduler flags); default Bistro's. */
  workerTimings?: WorkerTimings;
  /** Longest wait between two rounds when nothing pokes (Bistro's idle_wait bounds it too). */
  maxRoundIntervalMs?: number;
  /** How often the local workers flush task output to S3 (default 1 s, for a quick demo; workers default to 5 s). */
  logFlushIntervalMs?: number;
  /** Nodes refresh period and retry (--nodes-update-ms, --nodes-retry-ms); default Bistro's. */
  nodeTimings?: NodeRefreshTimings;
  /** Poll this config file and apply its edits as PUT /config does (--config with --config-update-ms). */
  configFile?: { path: string; intervalMs: number; initialText?: string };
  /** A polled config file edit was applied (`version`) or refused (`error`, the running config stays). */
  onConfigFile?: (event: { path: string; version?: number; error?: string }) => void;
  onRound?: (report: RoundReport) => void;
  onWorkerEvent?: (worker: string, event: WorkerEvent) => void;
  onError?: (where: string, error: unknown) => void;
}

export interface LocalDeployment {
  aws: AwsClients;
  store: StoreContext;
  bucket: string;
  statusQueueUrl: string;
  queuePrefix: string;
  instanceName: string;
  workers: WorkerHandle[];
  /** Where the API listens, e.g. http://127.0.0.1:6790. */
  apiUrl: string;
  /** Where the web UI listens, e.g. http://127.0.0.1:6791 (when asked for). */
  uiUrl?: string;
  /** Asks for a round now. */
  poke(): Promise<void>;
  /** Endpoints in use (the emulators', or the configured ones; none means AWS itself). */
  endpoints: Partial<Record<"dynamodb" | "sqs" | "s3", string>>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startLocalDeployment(options: LocalOptions): Promise<LocalDeployment> {
  const onError =
    options.onError ??
    ((where: string, error: unknown) => {
      console.error(`sous local: ${where}:`, error);
    });
  const needed = (["dynamodb", "sqs", "s3"] as const).filter((service) => !resolveEndpoint(service));
  let emulators: RunningEmulators | undefined;
  if (options.embedded !== false && needed.length > 0) {
    emulators = await startEmulators({
      dynamodb: needed.includes("dynamodb"),
      sqsAndS3: needed.includes("sqs") || needed.includes("s3"),
    });
  }
  const endpoints: Partial<Record<"dynamodb" | "sqs" | "s3", string>> = {};
  for (const service of ["dynamodb", "sqs", "s3"] as const) {
    const endpoint = emulators?.endpoints[service] || resolveEndpoint(service);
    if (endpoint) endpoints[service] = endpoint;
  }
  const aws = makeAwsClients({ endpoints });
  const tableName = `${options.name}-state`;
  const store: StoreContext = { doc: aws.doc, tableName };
  const bucket = `${options.name}-logs`;
  const queuePrefix = options.name;
  const instanceName = options.instanceName ?? "instance";

  await ensureTable(aws.dynamodb, tableName);
  try {
    await aws.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    if (!(error instanceof BucketAlreadyOwnedByYou)) throw error;
  }
  const { QueueUrl: deadLetterUrl } = await aws.sqs.send(
    new CreateQueueCommand({ QueueName: `${options.name}-status-dlq` }),
  );
  const { Attributes } = await aws.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: deadLetterUrl, AttributeNames: ["QueueArn"] }),
  );
  const { QueueUrl: statusQueueUrl } = await aws.sqs.send(
    new CreateQueueCommand({
      QueueName: `${options.name}-status`,
      Attributes: {
        VisibilityTimeout: "30",
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: Attributes?.QueueArn, maxReceiveCount: 5 }),
      },
    }),
  );
  if (!statusQueueUrl) throw new Error("The status queue could not be created.");
  if (options.config) {
    await putConfig(store, options.config, await getCurrentConfigVersion(store), Date.now());
  }

  let stopping = false;
  // Read through a function: a stop can happen while a loop awaits.
  const isStopping = () => stopping;
  const background: Promise<void>[] = [];

  // Rounds: on pokes, and otherwise after the delay the last round asked for.
  let wake: (() => void) | undefined;
  const trigger: RoundTrigger = () => {
    if (options.pokes !== false) wake?.();
    return Promise.resolve();
  };
  // One registry for rounds and the API: the script source remembers each script's last good output.
  let rds: ReturnType<typeof makeRdsClient> | undefined;
  const nodeSources = deploymentNodeSources({
    store,
    s3: () => aws.s3,
    rds: () => (rds ??= makeRdsClient()),
    extra: [createScriptSource()],
  });
  const roundDeps: RoundDeps = {
    store,
    nodeSources,
    sqs: aws.sqs,
    clock: Date.now,
    rng: Math.random,
    owner: `local-${process.pid}`,
    instanceName,
    ...(options.nodeTimings ? { nodeTimings: options.nodeTimings } : {}),
    ...(options.onRound ? { onRound: options.onRound } : {}),
    ...(options.workerTimings ? { timings: options.workerTimings } : {}),
    // Timers wake rounds the way they do on AWS: a delayed message on the status queue.
    waker: sqsRoundWaker(aws.sqs, statusQueueUrl),
    // A restarted `sous local` starts from the last checkpoint of the task state, as on AWS.
    checkpoints: s3CheckpointStore(() => aws.s3, bucket),
    // Attempts the round ends unseen get their `statuses` line, as on AWS.
    statusLog: roundStatusLog({
      s3: () => aws.s3,
      doc: aws.doc,
      tableName,
      bucket,
      onError: (error) => {
        onError("round status log", error);
      },
    }),
  };
  const maxInterval = options.maxRoundIntervalMs ?? 5000;
  background.push(
    (async () => {
      while (!isStopping()) {
        let delayMs = maxInterval;
        try {
          const reports = await runRounds(roundDeps);
          const last = reports.at(-1);
          if (last) delayMs = Math.min(maxInterval, last.nextRoundInSec * 1000);
        } catch (error) {
          onError("round", error);
        }
        if (isStopping()) break;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delayMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    })(),
  );
  const poke = () => requestRound(store, trigger);

  // Status ingestion: the status queue, long-polled; handled messages deleted, failed ones retried.
  background.push(
    (async () => {
      while (!isStopping()) {
        try {
          const { Messages = [] } = await aws.sqs.send(
            new ReceiveMessageCommand({ QueueUrl: statusQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
          );
          if (Messages.length === 0) continue;
          const result = await ingestStatuses(
            {
              store,
              clock: Date.now,
              log: (event) => {
                onError("status", event);
              },
              poke,
            },
            Messages.map((m) => ({ id: m.MessageId ?? "", body: m.Body ?? "" })),
          );
          const failed = new Set(result.failed.map((f) => f.id));
          const done = Messages.filter((m) => !failed.has(m.MessageId ?? ""));
          if (done.length > 0) {
            await aws.sqs.send(
              new DeleteMessageBatchCommand({
                QueueUrl: statusQueueUrl,
                Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
              }),
            );
          }
        } catch (error) {
          onError("status ingestion", error);
          await sleep(500);
        }
      }
    })(),
  );

  // Workers: in this process, and any `sous worker --api` pointed at this API, which learns the
  // table, bucket and emulator endpoints from its registration.
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1";
  const workerSetup: WorkerSetup = {
    tableName,
    logBucket: bucket,
    region,
    ...(Object.keys(endpoints).length > 0 ? { endpoints } : {}),
  };
  const controlPlane = new InProcessControlPlane({
    store,
    sqs: aws.sqs,
    queuePrefix,
    statusQueueUrl,
    clock: Date.now,
    setup: workerSetup,
    ...(options.workerTimings ? { timings: options.workerTimings } : {}),
  });
  const workers: WorkerHandle[] = [];
  const writers: LogWriter[] = [];
  for (let i = 1; i <= options.workers; i++) {
    const id = `local-${i}`;
    const dataDir = join(options.dataDir, id);
    mkdirSync(dataDir, { recursive: true });
    const logs = new LogWriter(
      { s3: aws.s3, doc: aws.doc, tableName, bucket, workerId: id },
      { flushIntervalMs: options.logFlushIntervalMs ?? 1000 },
    );
    writers.push(logs);
    workers.push(
      await startWorker(
        {
          controlPlane,
          sqs: aws.sqs,
          logs,
          onEvent: (event) => options.onWorkerEvent?.(id, event),
        },
        {
          id,
          command: options.workerCommand,
          dataDir,
          hostname: hostname(),
          instanceId: `${id}-${process.pid}-${Date.now()}`,
          receiveWaitSec: 1,
          ...(options.workerResources ? { resources: options.workerResources } : {}),
        },
      ),
    );
  }
  const apiDeps: ApiDeps = {
    store,
    nodeSources,
    sqs: aws.sqs,
    clock: Date.now,
    instanceName,
    poke,
    workerQueuePrefix: queuePrefix,
    statusQueueUrl,
    workerSetup,
    ...(options.workerTimings ? { workerTimings: options.workerTimings } : {}),
    readLogs: s3LogReader({ s3: () => aws.s3, doc: aws.doc, tableName, bucket }),
    log: (entry) => {
      onError("api", entry);
    },
  };
  const api = makeApi(apiDeps);
  const server = await serveApi(api, options.port, {
    ...(options.allowedOrigins ? { allowedOrigins: options.allowedOrigins } : {}),
  });
  let ui: UiServer | undefined;
  if (options.uiPort !== undefined) {
    ui = await serveUi({ apiUrl: server.url, signer: null, port: options.uiPort });
  }
  let configPoller: ConfigFilePoller | undefined;
  if (options.configFile) {
    configPoller = watchConfigFile({
      ...options.configFile,
      apply: (document) => replaceConfig(apiDeps, document, undefined),
      onChange:
        options.onConfigFile ??
        ((event) => {
          if (event.error) onError(`config file ${event.path}`, event.error);
        }),
    });
  }
  await poke(); // workers registered: schedule now

  return {
    aws,
    store,
    bucket,
    statusQueueUrl,
    queuePrefix,
    instanceName,
    workers,
    apiUrl: server.url,
    ...(ui ? { uiUrl: ui.url } : {}),
    poke,
    endpoints,
    async stop() {
      if (stopping) return;
      stopping = true;
      configPoller?.stop();
      wake?.();
      await ui?.close();
      await server.close();
      await Promise.all(workers.map((w) => w.stop({ graceful: false })));
      await Promise.allSettled(background);
      await Promise.allSettled(writers.map((w) => w.close()));
      aws.destroy();
      rds?.destroy();
      await emulators?.stop();
    },
  };
}
