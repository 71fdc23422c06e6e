// Container jobs' infrastructure: a task definition per declared name running `sous worker
// --once`, and a round that may RunTask exactly those (in the workers' cluster) and pass exactly
// their roles; the round learns them through SOUS_CONTAINER_SETUP.
import { Match } from "aws-cdk-lib/assertions";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as iam from "aws-cdk-lib/aws-iam";

import { asList, iamStatements, nagFindings, nagReport, synthSous, type Statement } from "./synth";

describe("container jobs", () => {
  const { stack, template } = synthSous({
    containerJobs: {
      render: {
        image: ecs.ContainerImage.fromRegistry("public.ecr.aws/example/render:1"),
        cpu: 2048,
        memoryLimitMiB: 4096,
      },
    },
  });
  const jobs = stack.scheduler.containerJobs!;

  test("a Fargate task definition running sous worker --once from the given image", () => {
    template.hasResourceProperties("AWS::ECS::TaskDefinition", {
      Cpu: "2048",
      Memory: "4096",
      ContainerDefinitions: [
        Match.objectLike({
          Image: "public.ecr.aws/example/render:1",
          Command: ["--once", "--command", "/opt/tasks/run.sh", "--data-dir", "/data"],
        }),
      ],
    });
  });

  test("the round may RunTask only these task definitions, in the workers' cluster, and pass only their roles", () => {
    const round = stack.getLogicalId(stack.scheduler.roundFunction.role.node.defaultChild as never);
    const statements = iamStatements(template).filter(({ statement }) =>
      ["RunContainerJobs", "PassContainerJobRoles", "TagContainerJobs"].includes(statement.Sid ?? ""),
    );
    expect(statements.map((s) => s.statement.Sid).sort()).toEqual([
      "PassContainerJobRoles",
      "RunContainerJobs",
      "TagContainerJobs",
    ]);
    for (const { policy } of statements) expect(policy).toContain(round.replace(/[0-9A-F]{8}$/, ""));
    const byId: Record<string, Statement> = Object.fromEntries(
      statements.map((s): [string, Statement] => [s.statement.Sid ?? "", s.statement]),
    );
    const definition = jobs.taskDefinitions.render!;
    expect(asList(byId.RunContainerJobs!.Resource)).toEqual([stack.resolve(definition.taskDefinitionArn)]);
    expect(byId.RunContainerJobs).toMatchObject({
      Action: "ecs:RunTask",
      Condition: {
        ArnEquals: { "ecs:cluster": stack.resolve(stack.scheduler.workers!.cluster.clusterArn) as unknown },
      },
    });
    expect(asList(byId.PassContainerJobRoles!.Resource).sort()).toEqual(
      [stack.resolve(definition.executionRole!.roleArn), stack.resolve(definition.taskRole.roleArn)].sort(),
    );
    expect(byId.PassContainerJobRoles).toMatchObject({
      Action: "iam:PassRole",
      Condition: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } },
    });
    expect(byId.TagContainerJobs).toMatchObject({ Condition: { StringEquals: { "ecs:CreateAction": "RunTask" } } });
  });

  test("the round may stop only tagged Sous tasks of the workers' cluster, and list and describe that cluster's only", () => {
    const byId = Object.fromEntries(
      iamStatements(template).map((s): [string, Statement] => [s.statement.Sid ?? "", s.statement]),
    );
    const cluster = stack.scheduler.workers!.cluster;
    const clusterCondition = { ArnEquals: { "ecs:cluster": stack.resolve(cluster.clusterArn) as unknown } };
    const clusterTasks = stack.resolve(
      `arn:${stack.partition}:ecs:${stack.region}:${stack.account}:task/${cluster.clusterName}/*`,
    ) as unknown;
    // Exactly these: one action each, the cluster's tasks only, the conditions kept.
    expect(byId.StopContainerJobs).toEqual({
      Sid: "StopContainerJobs",
      Effect: "Allow",
      Action: "ecs:StopTask",
      Resource: clusterTasks,
      Condition: { ...clusterCondition, Null: { "aws:ResourceTag/sous:attempt": "false" } },
    });
    expect(byId.DescribeContainerJobs).toEqual({
      Sid: "DescribeContainerJobs",
      Effect: "Allow",
      Action: "ecs:DescribeTasks",
      Resource: clusterTasks,
      Condition: clusterCondition,
    });
    expect(byId.ListContainerJobs).toEqual({
      Sid: "ListContainerJobs",
      Effect: "Allow",
      Action: "ecs:ListTasks",
      Resource: "*",
      Condition: clusterCondition,
    });
    // No other statement anywhere grants these actions (or ecs:*).
    const granting = iamStatements(template).filter(({ statement }) =>
      asList(statement.Action).some((a) =>
        ["ecs:StopTask", "ecs:DescribeTasks", "ecs:ListTasks", "ecs:*", "*"].includes(a),
      ),
    );
    expect(granting.map((g) => g.statement.Sid).sort()).toEqual([
      "DescribeContainerJobs",
      "ListContainerJobs",
      "StopContainerJobs",
    ]);
  });

  test("the task role carries the worker policy (ends, log uploads); the round gets the setup", () => {
    template.hasResourceProperties("AWS::IAM::Role", {
      AssumeRolePolicyDocument: Match.objectLike({
        Statement: [Match.objectLike({ Principal: { Service: "ecs-tasks.amazonaws.com" } })],
      }),
      ManagedPolicyArns: [{ Ref: stack.getLogicalId(stack.scheduler.workerPolicy.node.defaultChild as never) }],
    });
    template.hasResourceProperties("AWS::Lambda::Function", {
      Description: "Sous scheduling round (schedule and pokes)",
      Environment: { Variables: Match.objectLike({ SOUS_CONTAINER_SETUP: Match.anyValue() }) },
    });
  });

  test("extra task roles are passable only when declared; no unacknowledged cdk-nag finding", () => {
    const { stack: other, template: t } = synthSous({
      containerJobs: {
        render: {
          image: ecs.ContainerImage.fromRegistry("public.ecr.aws/example/render:1"),
          extraTaskRoles: [
            iam.Role.fromRoleArn(
              new iam.Role(stack, "Unused", { assumedBy: new iam.AccountRootPrincipal() }),
              "R",
              "arn:aws:iam::123456789012:role/render-gpu",
            ),
          ],
        },
      },
    });
    const pass = iamStatements(t).find((s) => s.statement.Sid === "PassContainerJobRoles")!;
    expect(asList(pass.statement.Resource)).toContain("arn:aws:iam::123456789012:role/render-gpu");
    expect(nagFindings(nagReport(other))).toEqual([]);
  });

  test("container jobs need the workers' cluster", () => {
    expect(() =>
      synthSous({ workers: false, containerJobs: { x: { image: ecs.ContainerImage.fromRegistry("x") } } }),
    ).toThrow(/need `workers`/);
  });
});
