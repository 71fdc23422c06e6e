// Jobs with a `container` key: each start becomes one ECS RunTask of the task definition the job
// names, whose container runs `sous worker --once` with the start order in its environment: the
// same argv, status pipe, task JSON, S3 logs and status-queue end as a task on a worker. Each
// start carries its own order, so each is its own RunTask call (RunTask's `count` starts copies
// with identical overrides); calls go out a few at a time, and the SDK's adaptive retry mode
// slows down and retries on throttling. docs/containers.md describes it.
import { createHash } from "node:crypto";
import { ConflictException, ECSClient, RunTaskCommand, type RunTaskCommandInput } from "@aws-sdk/client-ecs";
import type { ContainerSpec, Job, ResourceAmounts } from "../model/config";
import type { StartMessage } from "./messages";

/** What the deployment declares for container jobs (the stack passes it to the round). */
export interface ContainerSetup {
  cluster: string;
  subnets: string[];
  securityGroups: string[];
  assignPublicIp: boolean;
  /** Task definitions jobs may name, by name: the ARN to run, its container, the task roles it may take. */
  taskDefinitions: Record<string, { arn: string; container: string; roles?: string[] }>;
  /** What `sous worker --once` needs besides the order. */
  environment: { statusQueueUrl: string; tableName: string; logBucket: string };
}

/** The environment variable carrying the start order to `sous worker --once`. */
export const START_ORDER_ENV = "SOUS_START_ORDER";
/** RunTask's limit on the size of all overrides together. */
export const MAX_OVERRIDES_CHARS = 8192;
/** The tag RunTask puts on each task: its attempt (the round may stop only tasks carrying it). */
export const ATTEMPT_TAG = "sous:attempt";
/** RunTask calls in flight at once. */
const CONCURRENCY = 5;

/**
 * RunTask's `startedBy` for an attempt (letters, digits, `-`, `_`, `/`; at most 128): attempt ids
 * (`r<round>.<index>`) keep their letters and digits and map `.` to `/`, so distinct attempts never share one.
 */
export function startedByOf(attempt: string): string {
  return `sous/${attempt.replace(/[^A-Za-z0-9_-]/g, "/")}`.slice(0, 128);
}

/** The attempt whose task carries this `startedBy`, or undefined for tasks Sous did not start. */
export function attemptOfStartedBy(startedBy: string | undefined): string | undefined {
  if (!startedBy?.startsWith("sous/")) return undefined;
  return startedBy.slice("sous/".length).replace(/\//g, ".");
}

/** The family of a task definition ARN (`...:task-definition/FAMILY:REVISION`), for ListTasks. */
export function familyOf(taskDefinitionArn: string): string {
  const name = taskDefinitionArn.slice(taskDefinitionArn.lastIndexOf("/") + 1);
  const colon = name.indexOf(":");
  return colon < 0 ? name : name.slice(0, colon);
}

/** Task cpu units and memory MiB: the job's container sizes, else from its `cpu` and `ram_gb`/`memory_mb` resources. */
export function containerSize(spec: ContainerSpec, resources: ResourceAmounts): { cpu?: number; memoryMiB?: number } {
  const cores = resources.cpu;
  const memoryMiB =
    spec.memoryMiB ??
    (resources.ram_gb !== undefined && resources.ram_gb > 0
      ? resources.ram_gb * 1024
      : resources.memory_mb !== undefined && resources.memory_mb > 0
        ? resources.memory_mb
        : undefined);
  const cpu = spec.cpu ?? (cores !== undefined && cores > 0 ? cores * 1024 : undefined);
  return { ...(cpu !== undefined ? { cpu } : {}), ...(memoryMiB !== undefined ? { memoryMiB } : {}) };
}

/** The RunTask request for one start, or why there cannot be one. */
export function runTaskInput(
  order: StartMessage,
  job: Job,
  setup: ContainerSetup,
): { input: RunTaskCommandInput } | { error: string } {
  const spec = job.container;
  if (!spec) return { error: `Job ${job.name} has no container key` };
  const definition = setup.taskDefinitions[spec.taskDefinition];
  if (!definition) {
    const known = Object.keys(setup.taskDefinitions);
    return {
      error:
        `Job ${job.name} names task definition ${JSON.stringify(spec.taskDefinition)}, which this deployment ` +
        `does not declare (${known.length > 0 ? `declared: ${known.join(", ")}` : "it declares none"})`,
    };
  }
  if (spec.role !== undefined && !(definition.roles ?? []).includes(spec.role)) {
    return { error: `Job ${job.name}: role ${spec.role} is not one task definition ${spec.taskDefinition} may take` };
  }
  const size = containerSize(spec, job.resources);
  const environment = [
    { name: START_ORDER_ENV, value: JSON.stringify(order) },
    { name: "SOUS_STATUS_QUEUE_URL", value: setup.environment.statusQueueUrl },
    { name: "SOUS_TABLE", value: setup.environment.tableName },
    { name: "SOUS_LOG_BUCKET", value: setup.environment.logBucket },
  ];
  const overrides: NonNullable<RunTaskCommandInput["overrides"]> = {
    containerOverrides: [{ name: definition.container, environment }],
    ...(size.cpu !== undefined ? { cpu: String(size.cpu) } : {}),
    ...(size.memoryMiB !== undefined ? { memory: String(size.memoryMiB) } : {}),
    ...(spec.role !== undefined ? { taskRoleArn: spec.role } : {}),
  };
  const overridesChars = JSON.stringify(overrides).length;
  if (overridesChars > MAX_OVERRIDES_CHARS) {
    return {
      error:
        `The start order of ${job.name} on ${order.node} is ${overridesChars} characters with its overrides; RunTask ` +
        `takes at most ${MAX_OVERRIDES_CHARS} (make the job's config smaller)`,
    };
  }
  return {
    input: {
      cluster: setup.cluster,
      taskDefinition: definition.arn,
      launchType: "FARGATE",
      count: 1,
      // Per attempt (and cluster, since tokens are account-wide): a retried call starts no second task.
      clientToken: createHash("sha256").update(`${setup.cluster}\u0000${order.attempt}`).digest("hex").slice(0, 64),
      // Per attempt: the round finds an attempt's task by it (ListTasks), and reads it back (DescribeTasks).
      startedBy: startedByOf(order.attempt),
      networkConfiguration: {
        awsvpcConfiguration: {
          subnets: setup.subnets,
          securityGroups: setup.securityGroups,
          assignPublicIp: setup.assignPublicIp ? "ENABLED" : "DISABLED",
        },
      },
      overrides,
      tags: [
        { key: "sous:job", value: order.job.slice(0, 256) },
        { key: ATTEMPT_TAG, value: order.attempt },
      ],
    },
  };
}

export interface ContainerLaunch {
  order: StartMessage;
  job: Job;
}

export interface LaunchResult {
  launched: { attempt: string; taskArn: string }[];
  failed: { attempt: string; reason: string }[];
}

/** An ECS client for RunTask: adaptive retries back off (client-side rate limiting) on throttling. */
export function runTaskClient(config: ConstructorParameters<typeof ECSClient>[0] = {}): ECSClient {
  return new ECSClient({ retryMode: "adaptive", maxAttempts: 8, ...config });
}

/** Starts each launch as its own ECS task, a few calls at a time; never throws. */
export async function launchContainerTasks(
  ecs: ECSClient,
  setup: ContainerSetup,
  launches: readonly ContainerLaunch[],
): Promise<LaunchResult> {
  const result: LaunchResult = { launched: [], failed: [] };
  let next = 0;
  const launchOne = async (launch: ContainerLaunch): Promise<void> => {
    const attempt = launch.order.attempt;
    const built = runTaskInput(launch.order, launch.job, setup);
    if ("error" in built) {
      result.failed.push({ attempt, reason: built.error });
      return;
    }
    try {
      const answer = await ecs.send(new RunTaskCommand(built.input));
      const taskArn = answer.tasks?.[0]?.taskArn;
      if (taskArn) {
        result.launched.push({ attempt, taskArn });
      } else {
        const failure = answer.failures?.[0];
        result.failed.push({
          attempt,
          reason: `RunTask started no task: ${failure?.reason ?? "no reason given"}${failure?.detail ? ` (${failure.detail})` : ""}`,
        });
      }
    } catch (error) {
      // The token was used already: an earlier call (a round that crashed before recording it)
      // started this attempt's task. It is launched; no second task is started.
      if (error instanceof ConflictException) {
        result.launched.push({ attempt, taskArn: error.resourceIds?.[0] ?? "" });
        return;
      }
      result.failed.push({
        attempt,
        reason: `RunTask failed: ${error instanceof Error ? error.message : String(error)}`,
      });
    }
  };
  const lanes = Array.from({ length: Math.min(CONCURRENCY, launches.length) }, async () => {
    while (next < launches.length) {
      const launch = launches[next++];
      if (launch) await launchOne(launch);
    }
  });
  await Promise.all(lanes);
  return result;
}
