// The round's ECS calls after RunTask, against aws-sdk-client-mock: StopTask finds an attempt's
// task by its startedBy and passes the reason; the lost check lists running tasks per family and
// describes them 100 at a time, looks stopped attempts up one by one (bounded), and reports what
// ECS says; a RunTask whose token was used already counts as launched; throttled RunTask calls
// are retried by the SDK.
import {
  ConflictException,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  RunTaskCommand,
  StopTaskCommand,
  type Task,
} from "@aws-sdk/client-ecs";
import { mockClient } from "aws-sdk-client-mock";
import {
  checkContainerTasks,
  MAX_STOPPED_LOOKUPS,
  stopContainerTasks,
  type CheckedAttempt,
} from "../../lib/dispatch/ecs-tasks";
import {
  attemptOfStartedBy,
  familyOf,
  launchContainerTasks,
  runTaskClient,
  runTaskInput,
  startedByOf,
  type ContainerSetup,
} from "../../lib/dispatch/run-task";
import { containerStartOrder } from "../helpers/fake-ecs";
import { makeConfig } from "../helpers/model";

const setup: ContainerSetup = {
  cluster: "arn:aws:ecs:us-east-1:1:cluster/sous",
  subnets: ["subnet-1"],
  securityGroups: ["sg-1"],
  assignPublicIp: false,
  taskDefinitions: {
    render: { arn: "arn:aws:ecs:us-east-1:1:task-definition/sous-render:3", container: "Task" },
  },
  environment: { statusQueueUrl: "https://sqs/status", tableName: "t", logBucket: "b" },
};
const job = {
  ...makeConfig({ enabled: true, levels: ["shard"] }, { j: {} }).jobs.j!,
  container: { taskDefinition: "render" },
};

const order = containerStartOrder;

const ecs = mockClient(ECSClient);
beforeEach(() => ecs.reset());

describe("startedBy per attempt", () => {
  it("is RunTask-legal, distinct per attempt, and maps back; the family comes from the definition ARN", () => {
    expect(startedByOf("r12.3")).toBe("sous/r12/3");
    expect(startedByOf("r12.3")).toMatch(/^[A-Za-z0-9_/-]{1,128}$/);
    expect(startedByOf("r1.23")).not.toBe(startedByOf("r12.3"));
    expect(attemptOfStartedBy(startedByOf("r12.3"))).toBe("r12.3");
    expect(attemptOfStartedBy("ecs-svc/123")).toBeUndefined();
    expect(familyOf("arn:aws:ecs:us-east-1:1:task-definition/sous-render:3")).toBe("sous-render");
    const built = runTaskInput(order("r12.3"), job, setup);
    expect("input" in built && built.input.startedBy).toBe("sous/r12/3");
  });
});

describe("stopContainerTasks", () => {
  it("stops the attempt's running task with the reason, and says which attempts had none", async () => {
    ecs
      .on(ListTasksCommand, { startedBy: "sous/r1/0" })
      .resolves({ taskArns: ["arn:task/a"] })
      .on(ListTasksCommand, { startedBy: "sous/r1/1" })
      .resolves({ taskArns: [] });
    ecs.on(StopTaskCommand).resolves({});
    const result = await stopContainerTasks(new ECSClient({}), setup, [
      { attempt: "r1.0", reason: "killed through the API" },
      { attempt: "r1.1", reason: "Orphan: job j was deleted" },
    ]);
    expect(result).toEqual({ stopped: ["r1.0"], notRunning: ["r1.1"], failed: [] });
    expect(ecs.commandCalls(ListTasksCommand).map((c) => c.args[0].input)).toContainEqual({
      cluster: setup.cluster,
      startedBy: "sous/r1/0",
      desiredStatus: "RUNNING",
    });
    expect(ecs.commandCalls(StopTaskCommand).map((c) => c.args[0].input)).toEqual([
      { cluster: setup.cluster, task: "arn:task/a", reason: "Sous: killed through the API" },
    ]);
  });

  it("cuts the reason to StopTask's 255 characters and reports failures per attempt without throwing", async () => {
    ecs.on(ListTasksCommand).resolves({ taskArns: ["arn:task/a"] });
    ecs.on(StopTaskCommand).rejectsOnce(new Error("AccessDeniedException")).resolves({});
    const result = await stopContainerTasks(new ECSClient({}), setup, [{ attempt: "r1.0", reason: "x".repeat(400) }]);
    expect(result.failed).toEqual([{ attempt: "r1.0", reason: "AccessDeniedException" }]);
    expect(ecs.commandCalls(StopTaskCommand)[0]!.args[0].input.reason).toHaveLength(255);
  });
});

describe("checkContainerTasks", () => {
  const running = (n: number): Task[] =>
    Array.from({ length: n }, (_, i) => ({ taskArn: `arn:task/run-${i}`, startedBy: startedByOf(`r1.${i}`) }));

  it("lists running tasks per family (paged) and describes them at most 100 per call", async () => {
    const tasks = running(150);
    ecs
      .on(ListTasksCommand, { family: "sous-render", desiredStatus: "RUNNING" })
      .resolvesOnce({ taskArns: tasks.slice(0, 100).map((t) => t.taskArn!), nextToken: "p2" })
      .resolvesOnce({ taskArns: tasks.slice(100).map((t) => t.taskArn!) });
    ecs.on(DescribeTasksCommand).callsFake((input: { tasks: string[] }) => ({
      tasks: tasks.filter((t) => input.tasks.includes(t.taskArn!)),
    }));
    const attempts: CheckedAttempt[] = tasks.map((_, i) => ({ attempt: `r1.${i}`, taskDefinition: "render" }));
    const states = await checkContainerTasks(new ECSClient({}), setup, attempts);
    expect(states.size).toBe(150);
    expect([...states.values()].every((s) => s.state === "running")).toBe(true);
    const describes = ecs.commandCalls(DescribeTasksCommand).map((c) => c.args[0].input.tasks!.length);
    expect(describes).toEqual([100, 50]);
    expect(ecs.commandCalls(ListTasksCommand)).toHaveLength(2); // no per-attempt lookups: all running
  });

  it("looks up attempts not running: stopped with ECS's reasons, or unknown to ECS", async () => {
    ecs.on(ListTasksCommand, { family: "sous-render" }).resolves({ taskArns: [] });
    ecs
      .on(ListTasksCommand, { startedBy: "sous/r2/0", desiredStatus: "STOPPED" })
      .resolves({ taskArns: ["arn:task/oom"] })
      .on(ListTasksCommand, { startedBy: "sous/r2/1", desiredStatus: "STOPPED" })
      .resolves({ taskArns: [] });
    ecs.on(DescribeTasksCommand).resolves({
      tasks: [
        {
          taskArn: "arn:task/oom",
          startedBy: "sous/r2/0",
          lastStatus: "STOPPED",
          stoppedReason: "Essential container in task exited",
          stoppedAt: new Date(1000),
          containers: [{ reason: "OutOfMemoryError: Container killed due to memory usage", exitCode: 137 }],
        },
      ],
    });
    const states = await checkContainerTasks(new ECSClient({}), setup, [
      { attempt: "r2.0", taskDefinition: "render" },
      { attempt: "r2.1", taskDefinition: "render" },
    ]);
    expect(states.get("r2.0")).toEqual({
      state: "stopped",
      stoppedReason: "Essential container in task exited; OutOfMemoryError: Container killed due to memory usage",
      stoppedAtMs: 1000,
      exitCode: 137,
    });
    expect(states.get("r2.1")).toEqual({ state: "unknown" });
  });

  it("bounds the one-by-one lookups per call", async () => {
    ecs.on(ListTasksCommand).resolves({ taskArns: [] });
    const attempts = Array.from({ length: MAX_STOPPED_LOOKUPS + 30 }, (_, i) => ({
      attempt: `r3.${i}`,
      taskDefinition: "render",
    }));
    const states = await checkContainerTasks(new ECSClient({}), setup, attempts);
    expect(states.size).toBe(MAX_STOPPED_LOOKUPS);
    expect(ecs.commandCalls(ListTasksCommand)).toHaveLength(1 + MAX_STOPPED_LOOKUPS);
    expect(ecs.commandCalls(DescribeTasksCommand)).toHaveLength(0);
  });
});

describe("RunTask idempotency and throttling", () => {
  it("a token used already (ConflictException) counts as launched, with the task ECS names; no second RunTask", async () => {
    ecs
      .on(RunTaskCommand)
      .rejects(new ConflictException({ message: "token used", $metadata: {}, resourceIds: ["arn:task/first"] }));
    const result = await launchContainerTasks(new ECSClient({}), setup, [{ order: order("r4.0"), job }]);
    expect(result).toEqual({ launched: [{ attempt: "r4.0", taskArn: "arn:task/first" }], failed: [] });
    expect(ecs.commandCalls(RunTaskCommand)).toHaveLength(1);
  });

  it("the same attempt always sends the same clientToken (a relaunch is idempotent)", () => {
    const a = runTaskInput(order("r5.0"), job, setup);
    const b = runTaskInput(order("r5.0"), job, setup);
    const c = runTaskInput(order("r5.1"), job, setup);
    if (!("input" in a) || !("input" in b) || !("input" in c)) throw new Error("no input");
    expect(a.input.clientToken).toBe(b.input.clientToken);
    expect(a.input.clientToken).not.toBe(c.input.clientToken);
    expect(a.input.clientToken!.length).toBeLessThanOrEqual(64);
  });

  it("a throttled RunTask is retried by the client (below the mock: a real request handler answers)", async () => {
    ecs.restore();
    let calls = 0;
    const client = runTaskClient({
      region: "us-east-1",
      credentials: { accessKeyId: "a", secretAccessKey: "b" },
      requestHandler: {
        handle: () => {
          calls++;
          const throttled = calls <= 2;
          const body = throttled
            ? JSON.stringify({ __type: "ThrottlingException", message: "Rate exceeded" })
            : JSON.stringify({ tasks: [{ taskArn: "arn:task/after-throttle" }], failures: [] });
          return Promise.resolve({
            response: {
              statusCode: throttled ? 400 : 200,
              headers: { "content-type": "application/x-amz-json-1.1" },
              body: new TextEncoder().encode(body),
            },
          });
        },
      } as never,
    });
    const result = await launchContainerTasks(client, setup, [{ order: order("r6.0"), job }]);
    expect(result.launched).toEqual([{ attempt: "r6.0", taskArn: "arn:task/after-throttle" }]);
    expect(calls).toBe(3);
    ecs.reset();
  });
});
