// Lambda entry point of the scheduling round: triggered by the EventBridge schedule (the
// backstop) and by pokes (async invokes). Reserved concurrency 1 keeps invocations in line;
// the lease makes a second one harmless anyway. Thin: wires clients and env into runRounds.
import "./stack-traces"; // first: maps stack traces to the sources, read on first use
import middy from "@middy/core";
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import type { Context } from "aws-lambda";
import type { ECSClient } from "@aws-sdk/client-ecs";
import { once } from "../lib/aws/config";
import { makeDocumentClient, makeDynamoDbClient } from "../lib/aws/dynamodb";
import { makeSqsClient } from "../lib/aws/sqs";
import type { ContainerSetup } from "../lib/dispatch/run-task";
import type { ContainerLauncher } from "../lib/round/container-dispatch";
import { deploymentNodeSources } from "../lib/nodes/deployment-sources";
import { requestRound } from "../lib/round/poke";
import {
  BACKLOG_METRICS,
  BACKLOG_NAMESPACE,
  DEPLOYMENT_DIMENSION,
  ROUND_SERVICE_NAME,
} from "../lib/round/backlog-metrics";
import { s3CheckpointStore } from "../lib/round/checkpoint";
import { BISTRO_NODE_TIMINGS } from "../lib/round/node-refresh";
import { roundStatusLog } from "../lib/round/round-status-log";
import { runRounds, type RoundDeps, type RoundReport } from "../lib/round/run-round";
import { sqsRoundWaker } from "../lib/round/wake-sqs";
import { requireEnv } from "./env";

const logger = new Logger({ serviceName: ROUND_SERVICE_NAME });
const metrics = new Metrics({
  namespace: BACKLOG_NAMESPACE,
  serviceName: ROUND_SERVICE_NAME,
  defaultDimensions: { [DEPLOYMENT_DIMENSION]: process.env.SOUS_DEPLOYMENT ?? "sous" },
});

/** The backlog the worker service scales on, as the last round left it (EMF on stdout). */
export function publishBacklog(target: Metrics, report: RoundReport | undefined): void {
  if (!report) return; // another invocation held the lease and publishes its own
  target.addMetric(BACKLOG_METRICS.runnablePending, MetricUnit.Count, report.backlog.runnablePending);
  target.addMetric(BACKLOG_METRICS.running, MetricUnit.Count, report.backlog.running);
  target.publishStoredMetrics();
}
// Every round uses DynamoDB and SQS. The other SDK packages load only when first needed, through
// import(): S3 and RDS for those node sources, ECS for container jobs, Lambda for a retrigger.
const doc = once(() => makeDocumentClient(makeDynamoDbClient()));
const sqs = once(() => makeSqsClient());
const s3 = once(async () => (await import("../lib/aws/s3")).makeS3Client());
const rds = once(async () => (await import("../lib/aws/rds")).makeRdsClient());
let ecs: ECSClient | undefined;
// Container jobs (SOUS_CONTAINER_SETUP, set by the stack when it declares containerJobs).
const containerSetup = process.env.SOUS_CONTAINER_SETUP
  ? (JSON.parse(process.env.SOUS_CONTAINER_SETUP) as ContainerSetup)
  : undefined;
// ECS code and its client load on the first container call: most deployments never make one.
const ecsClient = async () => {
  const { runTaskClient } = await import("../lib/dispatch/run-task");
  return (ecs ??= runTaskClient());
};
const containers: ContainerLauncher | undefined = containerSetup
  ? {
      launch: async (launches) => {
        const { launchContainerTasks } = await import("../lib/dispatch/run-task");
        return launchContainerTasks(await ecsClient(), containerSetup, launches);
      },
      stop: async (stops) => {
        const { stopContainerTasks } = await import("../lib/dispatch/ecs-tasks");
        return stopContainerTasks(await ecsClient(), containerSetup, stops);
      },
      check: async (attempts) => {
        const { checkContainerTasks } = await import("../lib/dispatch/ecs-tasks");
        return checkContainerTasks(await ecsClient(), containerSetup, attempts);
      },
    }
  : undefined;

/** Asks for another round when this one runs out of time (rare: the Lambda package loads then). */
const retrigger = once(async () => {
  const [{ lambdaRoundTrigger }, { makeLambdaClient }] = await Promise.all([
    import("../lib/round/lambda-trigger"),
    import("../lib/aws/lambda"),
  ]);
  const lambda = makeLambdaClient();
  return (functionName: string) => lambdaRoundTrigger(lambda, functionName);
});
// Kept across warm invocations: the parsed config is reused while its version is unchanged.
const cache: Pick<RoundDeps, "cache" | "nodeCache" | "taskCache" | "checkpointAtMs"> = {};

/** A period from the environment (ms); the default when unset. */
function periodMs(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

export async function roundHandler(
  _event: unknown,
  context: Pick<Context, "awsRequestId"> & Partial<Pick<Context, "getRemainingTimeInMillis" | "functionName">>,
) {
  const deps: RoundDeps = {
    store: { doc: doc(), tableName: requireEnv("TABLE_NAME") },
    sqs: sqs(),
    clock: Date.now,
    rng: Math.random,
    owner: context.awsRequestId,
    instanceName: process.env.INSTANCE_NODE_NAME ?? "instance",
    nodeSources: deploymentNodeSources({
      store: { doc: doc(), tableName: requireEnv("TABLE_NAME") },
      s3,
      rds,
    }),
    nodeTimings: {
      updateMs: periodMs("NODES_UPDATE_MS", BISTRO_NODE_TIMINGS.updateMs),
      retryMs: periodMs("NODES_RETRY_MS", BISTRO_NODE_TIMINGS.retryMs),
    },
    log: (event) => {
      logger.info("scheduler", event);
    },
    ...(containers ? { containers } : {}),
    // Attempts a round ends unseen (lost workers, stopped containers) get their `statuses` line.
    ...(process.env.LOG_BUCKET
      ? {
          statusLog: roundStatusLog({
            s3,
            doc: doc(),
            tableName: requireEnv("TABLE_NAME"),
            bucket: process.env.LOG_BUCKET,
            onError: (error) => {
              logger.error("round status log", { error: error instanceof Error ? error.message : String(error) });
            },
          }),
        }
      : {}),
    // A cold function starts from the last checkpoint of the task state, not from every task item.
    ...(process.env.LOG_BUCKET ? { checkpoints: s3CheckpointStore(s3, process.env.LOG_BUCKET) } : {}),
    // Timers (backoffs, orphan kills, add_time slots) wake a round through the status queue.
    ...(process.env.STATUS_QUEUE_URL ? { waker: sqsRoundWaker(sqs(), process.env.STATUS_QUEUE_URL) } : {}),
  };
  if (cache.cache) deps.cache = cache.cache;
  if (cache.nodeCache) deps.nodeCache = cache.nodeCache;
  if (cache.taskCache) deps.taskCache = cache.taskCache;
  if (cache.checkpointAtMs !== undefined) deps.checkpointAtMs = cache.checkpointAtMs;
  const store = deps.store;
  const reports = await runRounds(deps, 10, {
    ...(context.getRemainingTimeInMillis ? { timeLeftMs: context.getRemainingTimeInMillis } : {}),
    ...(context.functionName
      ? { retrigger: async () => requestRound(store, (await retrigger())(context.functionName ?? "")) }
      : {}),
  });
  if (deps.cache) cache.cache = deps.cache;
  if (deps.nodeCache) cache.nodeCache = deps.nodeCache;
  if (deps.taskCache) cache.taskCache = deps.taskCache;
  if (deps.checkpointAtMs !== undefined) cache.checkpointAtMs = deps.checkpointAtMs;
  publishBacklog(metrics, reports.at(-1));
  return {
    rounds: reports.length,
    started: reports.reduce((n, r) => n + r.started.length, 0),
    killed: reports.reduce((n, r) => n + r.killed, 0),
    resent: reports.reduce((n, r) => n + r.resent, 0),
    lostWorkers: reports.flatMap((r) => r.lostWorkers),
    reasons: reports.at(-1)?.reasons.map((r) => (r.job ? `${r.job}: ${r.message}` : r.message)) ?? [],
  };
}

export const handler = middy(roundHandler).use(injectLambdaContext(logger));
