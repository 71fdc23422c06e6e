// Least privilege, statement by statement (docs/security.md): each assertion fails if a grant
// widens: more actions, a broader resource, or a dropped condition. The snapshot in
// iam-policies.test.ts catches every other change to any policy.
import { Stack } from "aws-cdk-lib";

import { workerQueuePolicy } from "../../lib/dispatch/sqs";
import { DEFAULT_LOG_KEY_PREFIX, SCHEDULER_LOG_OWNER } from "../../lib/logs/keys";
import { CHECKPOINT_KEY } from "../../lib/round/checkpoint";
import { asList, iamStatements, resourcesOfType, synthSous, type Statement } from "./synth";

const { stack, template } = synthSous();
const scheduler = stack.scheduler;
const resolve = (value: unknown) => JSON.stringify(Stack.of(stack).resolve(value));
const queuePattern = `${scheduler.queuePrefix}-w-*`;

function statementsOfPolicy(construct: { node: { defaultChild?: unknown } }): Statement[] {
  const id = stack.getLogicalId(construct.node.defaultChild as never);
  return iamStatements(template)
    .filter((s) => s.policy === id)
    .map((s) => s.statement);
}
function roleStatements(role: { node: { findChild(id: string): { node: { defaultChild?: unknown } } } }) {
  return statementsOfPolicy(role.node.findChild("DefaultPolicy"));
}
const bySid = (statements: Statement[], sid: string) => {
  const found = statements.filter((s) => s.Sid === sid);
  expect(found).toHaveLength(1);
  return found[0]! as Statement & { Condition?: unknown };
};
const workerStatements = statementsOfPolicy(scheduler.workerPolicy);

describe("worker policy", () => {
  test("has exactly these statements, all Allow", () => {
    expect(workerStatements.map((s) => [s.Sid, s.Effect])).toEqual([
      ["RegisterAndHeartbeat", "Allow"],
      ["WorkerQueues", "Allow"],
      ["TaskEnds", "Allow"],
      ["LogSegments", "Allow"],
      ["LogIndex", "Allow"],
    ]);
  });

  test("calls only the two worker routes, POST only", () => {
    const statement = bySid(workerStatements, "RegisterAndHeartbeat");
    expect(statement.Action).toBe("execute-api:Invoke");
    const routes = asList(statement.Resource).map((r) => resolve(r));
    expect(routes).toHaveLength(2);
    expect(routes[0]).toMatch(/\/POST\/workers"\]\]\}$/);
    expect(routes[1]).toMatch(/\/POST\/workers\/\*\/heartbeat"\]\]\}$/);
  });

  test("receives, deletes and changes visibility on worker queues only (each queue's policy narrows to its owner)", () => {
    const statement = bySid(workerStatements, "WorkerQueues");
    expect(statement.Action).toEqual(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]);
    expect(asList(statement.Resource)).toHaveLength(1);
    expect(resolve(statement.Resource)).toContain(`:${queuePattern}`);
    expect(statement.Condition).toBeUndefined();
  });

  test("sends task ends to the status queue only", () => {
    const statement = bySid(workerStatements, "TaskEnds");
    expect(statement.Action).toBe("sqs:SendMessage");
    expect(resolve(statement.Resource)).toBe(
      resolve({ "Fn::GetAtt": [stack.getLogicalId(scheduler.statusQueue.node.defaultChild as never), "Arn"] }),
    );
  });

  test("uploads log segments to its own aws:userid folder only; no reads, lists or deletes", () => {
    const statement = bySid(workerStatements, "LogSegments");
    expect(statement.Action).toBe("s3:PutObject");
    expect(asList(statement.Resource)).toHaveLength(1);
    // Exactly `<bucket>/task-logs/${aws:userid}/*`: any other folder (another worker's) is out of reach.
    expect(resolve(statement.Resource)).toMatch(
      new RegExp(`"/${DEFAULT_LOG_KEY_PREFIX}\\$\\{aws:userid\\}/\\*"\\]\\]\\}$`),
    );
  });

  test("writes log index items only: BatchWriteItem limited to the log-index partition keys", () => {
    const statement = bySid(workerStatements, "LogIndex");
    expect(statement.Action).toBe("dynamodb:BatchWriteItem");
    expect(asList(statement.Resource)).toHaveLength(1);
    expect(resolve(statement.Resource)).not.toContain("/index/");
    expect(statement.Condition).toEqual({
      "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["LOGIDX#*", "LOGJOB#*", "LOGTIME#*"] },
    });
  });

  test("grants nothing that reads the table or touches the lease, config, counters, tasks or workers", () => {
    const actions = workerStatements.flatMap((s) => asList(s.Action));
    for (const action of actions) {
      expect(action).toMatch(
        /^(execute-api:Invoke|sqs:(ReceiveMessage|DeleteMessage|ChangeMessageVisibility|SendMessage)|s3:PutObject|dynamodb:BatchWriteItem)$/,
      );
    }
    expect(actions.some((a) => a.includes("*"))).toBe(false);
  });
});

describe("function roles", () => {
  test("the API's worker-queue statement: create, policy, clean-up delete and kill orders, on worker queues only", () => {
    const statement = bySid(roleStatements(scheduler.apiFunction.role), "WorkerQueues");
    expect(statement.Action).toEqual([
      "sqs:CreateQueue",
      "sqs:GetQueueAttributes",
      "sqs:SetQueueAttributes",
      "sqs:DeleteQueue",
      "sqs:SendMessage",
    ]);
    expect(asList(statement.Resource)).toHaveLength(1);
    expect(resolve(statement.Resource)).toContain(`:${queuePattern}`);
  });

  test("the API never receives from queues; the round only sends to worker queues", () => {
    for (const fn of [scheduler.apiFunction, scheduler.roundFunction]) {
      const actions = roleStatements(fn.role).flatMap((s) => asList(s.Action));
      expect(actions).not.toContain("sqs:ReceiveMessage");
      expect(actions).not.toContain("sqs:DeleteMessage");
    }
    const orders = bySid(roleStatements(scheduler.roundFunction.role), "StartAndKillOrders");
    expect(orders.Action).toBe("sqs:SendMessage");
    expect(resolve(orders.Resource)).toContain(`:${queuePattern}`);
  });

  test("the round sends wake-ups to the status queue only, and only sends", () => {
    const statement = bySid(roleStatements(scheduler.roundFunction.role), "WakeUps");
    expect(statement.Action).toBe("sqs:SendMessage");
    expect(resolve(statement.Resource)).toBe(
      resolve({ "Fn::GetAtt": [stack.getLogicalId(scheduler.statusQueue.node.defaultChild as never), "Arn"] }),
    );
    expect(statement.Condition).toBeUndefined();
  });

  test("the round writes log segments in its own folder only: PutObject on task-logs/_scheduler/*", () => {
    const statement = bySid(roleStatements(scheduler.roundFunction.role), "SchedulerStatusLines");
    expect(statement.Action).toBe("s3:PutObject");
    expect(asList(statement.Resource)).toHaveLength(1);
    // Exactly `<bucket>/task-logs/_scheduler/*`: never a worker's folder, never the whole prefix.
    expect(resolve(statement.Resource)).toMatch(
      new RegExp(`"/${DEFAULT_LOG_KEY_PREFIX}${SCHEDULER_LOG_OWNER}/\\*"\\]\\]\\}$`),
    );
    expect(statement.Condition).toBeUndefined();
    const s3Statements = roleStatements(scheduler.roundFunction.role).filter((s) =>
      asList(s.Action).some((a) => a.startsWith("s3:")),
    );
    expect(s3Statements.map((s) => s.Sid).sort()).toEqual(["SchedulerStatusLines", "TaskStateCheckpoint"]);
  });

  test("the round reads and writes its task-state checkpoint, one object and nothing else of the bucket", () => {
    const statement = bySid(roleStatements(scheduler.roundFunction.role), "TaskStateCheckpoint");
    expect(asList(statement.Action).sort()).toEqual(["s3:GetObject", "s3:PutObject"]);
    expect(asList(statement.Resource)).toHaveLength(1);
    expect(resolve(statement.Resource)).toMatch(new RegExp(`"/${CHECKPOINT_KEY.replace(/\./g, "\\.")}"\\]\\]\\}$`));
    expect(statement.Condition).toBeUndefined();
    // Nobody else may write it: every other PutObject grant is under the task-logs prefix.
    for (const { statement: other } of iamStatements(template)) {
      if (other.Sid === "TaskStateCheckpoint" || !asList(other.Action).includes("s3:PutObject")) continue;
      expect(resolve(other.Resource)).toContain(`/${DEFAULT_LOG_KEY_PREFIX}`);
    }
  });

  test("no statement anywhere allows every action or every resource of a service", () => {
    for (const { policy, statement } of iamStatements(template)) {
      for (const action of asList(statement.Action)) expect({ policy, action }).not.toMatchObject({ action: "*" });
      expect({ policy, action: asList(statement.Action).filter((a) => /^[a-z0-9-]+:\*$/.test(a)) }).toEqual({
        policy,
        action: [],
      });
    }
  });
});

describe("queues are TLS only", () => {
  test("the status queue and its dead-letter queue deny requests without TLS", () => {
    const policies = Object.values(resourcesOfType(template, "AWS::SQS::QueuePolicy"));
    const tlsDenied = policies.filter((p) =>
      JSON.stringify(p.Properties?.PolicyDocument).includes('"aws:SecureTransport":"false"'),
    );
    expect(tlsDenied).toHaveLength(2);
  });

  test("worker queues (created at run time) get a TLS-only policy, and an owner-only one with a known caller", () => {
    const arn = "arn:aws:sqs:eu-west-1:123456789012:sous-w-a";
    const open = JSON.parse(workerQueuePolicy(arn, undefined)) as { Statement: Record<string, unknown>[] };
    expect(open.Statement).toEqual([
      {
        Sid: "TlsOnly",
        Effect: "Deny",
        Principal: "*",
        Action: "sqs:*",
        Resource: arn,
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      },
    ]);
    const owned = JSON.parse(workerQueuePolicy(arn, "AROAEXAMPLE:task-1")) as { Statement: Record<string, unknown>[] };
    expect(owned.Statement[1]).toEqual({
      Sid: "OwnerOnlyReceives",
      Effect: "Deny",
      Principal: "*",
      Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"],
      Resource: arn,
      Condition: { StringNotEquals: { "aws:userid": "AROAEXAMPLE:task-1" } },
    });
  });
});
