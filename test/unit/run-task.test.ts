// Container jobs' dispatch: one RunTask per start with the start order in the container's
// environment, sizes from the job, declared task definitions and roles only, throttling retried
// by the SDK's adaptive mode, failures reported per attempt (never thrown).
import { ECSClient, RunTaskCommand } from "@aws-sdk/client-ecs";
import { mockClient } from "aws-sdk-client-mock";
import {
  containerSize,
  launchContainerTasks,
  MAX_OVERRIDES_CHARS,
  runTaskClient,
  START_ORDER_ENV,
  type ContainerSetup,
} from "../../lib/dispatch/run-task";
import type { Job } from "../../lib/model/config";
import { containerStartOrder } from "../helpers/fake-ecs";
import { makeConfig } from "../helpers/model";

const setup: ContainerSetup = {
  cluster: "arn:aws:ecs:us-east-1:1:cluster/sous",
  subnets: ["subnet-1"],
  securityGroups: ["sg-1"],
  assignPublicIp: true,
  taskDefinitions: {
    render: {
      arn: "arn:aws:ecs:us-east-1:1:task-definition/sous-job-render",
      container: "Task",
      roles: ["arn:role/r"],
    },
  },
  environment: { statusQueueUrl: "https://sqs/status", tableName: "t", logBucket: "b" },
};

function job(container: Job["container"], resources: Record<string, number> = {}): Job {
  const base = makeConfig({ enabled: true, levels: ["shard"] }, { j: {} }).jobs.j!;
  return { ...base, resources, ...(container ? { container } : {}) };
}

const order = containerStartOrder;

const ecs = mockClient(ECSClient);
beforeEach(() => ecs.reset());

describe("launchContainerTasks", () => {
  it("sends one RunTask per start, with the order, sizes and role, on the declared task definition", async () => {
    ecs.on(RunTaskCommand).callsFake((input: { clientToken: string }) => ({
      tasks: [{ taskArn: `arn:task/${input.clientToken.slice(0, 6)}` }],
    }));
    const spec = { taskDefinition: "render", cpu: 2048, memoryMiB: 4096, role: "arn:role/r" };
    const result = await launchContainerTasks(new ECSClient({}), setup, [
      { order: order("r1.0"), job: job(spec) },
      { order: order("r1.1"), job: job(spec) },
    ]);
    expect(result.failed).toEqual([]);
    expect(result.launched.map((l) => l.attempt).sort()).toEqual(["r1.0", "r1.1"]);
    const calls = ecs.commandCalls(RunTaskCommand).map((c) => c.args[0].input);
    expect(calls).toHaveLength(2);
    const first = calls.find((c) => c.tags?.some((t) => t.value === "r1.0"))!;
    expect(first).toMatchObject({
      cluster: setup.cluster,
      taskDefinition: setup.taskDefinitions.render!.arn,
      launchType: "FARGATE",
      count: 1,
      networkConfiguration: { awsvpcConfiguration: { subnets: ["subnet-1"], assignPublicIp: "ENABLED" } },
      overrides: { cpu: "2048", memory: "4096", taskRoleArn: "arn:role/r" },
    });
    const env = first.overrides!.containerOverrides![0]!.environment!;
    expect(JSON.parse(env.find((e) => e.name === START_ORDER_ENV)!.value!)).toEqual(order("r1.0"));
    expect(env.map((e) => e.name)).toEqual([START_ORDER_ENV, "SOUS_STATUS_QUEUE_URL", "SOUS_TABLE", "SOUS_LOG_BUCKET"]);
    // Distinct, stable idempotency tokens per attempt.
    expect(new Set(calls.map((c) => c.clientToken)).size).toBe(2);
  });

  it("maps job resources to task size when the container key gives none", () => {
    expect(containerSize({ taskDefinition: "x" }, { cpu: 2, ram_gb: 8 })).toEqual({ cpu: 2048, memoryMiB: 8192 });
    expect(containerSize({ taskDefinition: "x" }, { memory_mb: 3000 })).toEqual({ memoryMiB: 3000 });
    expect(containerSize({ taskDefinition: "x", cpu: 512 }, { cpu: 4 })).toEqual({ cpu: 512 });
    expect(containerSize({ taskDefinition: "x" }, {})).toEqual({});
  });

  it("refuses undeclared task definitions and roles, and orders past RunTask's override limit, without calling", async () => {
    const result = await launchContainerTasks(new ECSClient({}), setup, [
      { order: order("a"), job: job({ taskDefinition: "other" }) },
      { order: order("b"), job: job({ taskDefinition: "render", role: "arn:role/admin" }) },
      { order: order("c", { big: "x".repeat(MAX_OVERRIDES_CHARS) }), job: job({ taskDefinition: "render" }) },
    ]);
    expect(ecs.commandCalls(RunTaskCommand)).toHaveLength(0);
    expect(Object.fromEntries(result.failed.map((f) => [f.attempt, f.reason]))).toEqual({
      a: expect.stringContaining('names task definition "other", which this deployment does not declare') as unknown,
      b: expect.stringContaining("role arn:role/admin is not one") as unknown,
      c: expect.stringContaining(`takes at most ${MAX_OVERRIDES_CHARS}`) as unknown,
    });
  });

  it("reports RunTask failures and errors per attempt", async () => {
    ecs
      .on(RunTaskCommand)
      .resolvesOnce({ failures: [{ reason: "RESOURCE:ENI", detail: "no ENI" }] })
      .rejectsOnce(new Error("AccessDenied"));
    const result = await launchContainerTasks(new ECSClient({}), setup, [
      { order: order("x"), job: job({ taskDefinition: "render" }) },
      { order: order("y"), job: job({ taskDefinition: "render" }) },
    ]);
    expect(result.launched).toEqual([]);
    expect(result.failed.map((f) => f.reason).sort()).toEqual([
      "RunTask failed: AccessDenied",
      "RunTask started no task: RESOURCE:ENI (no ENI)",
    ]);
  });

  it("RunTask's client backs off on throttling: the SDK's adaptive retry mode, 8 attempts", async () => {
    // (aws-sdk-client-mock replaces `send`, below the retry middleware: the strategy is checked here.)
    const client = runTaskClient({ region: "us-east-1", credentials: { accessKeyId: "a", secretAccessKey: "b" } });
    expect(await client.config.retryStrategy()).toMatchObject({ mode: "adaptive" });
    expect(await client.config.maxAttempts()).toBe(8);
  });
});
