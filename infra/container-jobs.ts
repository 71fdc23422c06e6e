// Container jobs' task definitions: one Fargate task definition per declared name, whose container
// runs `sous worker --once` from the given image (built FROM the Sous worker image, with the
// task's code). The round launches them with RunTask: it may run exactly these task definitions,
// in the workers' cluster, and pass exactly their roles; it may stop only tasks it started (tagged
// with their attempt) in that cluster, and list and describe tasks of that cluster only
// (docs/containers.md).
import { Stack } from "aws-cdk-lib";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";

import { ATTEMPT_TAG, type ContainerSetup } from "../lib/dispatch/run-task";
import { acknowledge } from "./nag";

export interface ContainerJobDefinition {
  /** An image FROM the Sous worker image (its entry point is `sous worker`), holding the task's code. */
  image: ecs.ContainerImage;
  /** `--command` inside the image. Default `/opt/tasks/run.sh`. */
  command?: string;
  /** Default size (jobs may override): cpu units (1024 = 1 vCPU) and MiB. Default 1024 and 2048. */
  cpu?: number;
  memoryLimitMiB?: number;
  /** More task roles jobs may name with `role` (each needs the worker policy too). */
  extraTaskRoles?: iam.IRole[];
  cpuArchitecture?: "x86_64" | "arm64";
}

export interface SousContainerJobsProps {
  definitions: Record<string, ContainerJobDefinition>;
  cluster: ecs.Cluster;
  subnetIds: string[];
  securityGroupIds: string[];
  assignPublicIp: boolean;
  policy: iam.IManagedPolicy;
  logGroup: logs.ILogGroup;
  environment: ContainerSetup["environment"];
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

export class SousContainerJobs extends Construct {
  readonly taskDefinitions: Record<string, ecs.FargateTaskDefinition> = {};
  /** What the round needs to launch them (its SOUS_CONTAINER_SETUP). */
  readonly setup: ContainerSetup;
  /** RunTask on these task definitions, PassRole on their roles, StopTask/ListTasks/DescribeTasks in the cluster. */
  readonly launchStatements: iam.PolicyStatement[];

  constructor(scope: Construct, id: string, props: SousContainerJobsProps) {
    super(scope, id);
    const taskDefinitions: ContainerSetup["taskDefinitions"] = {};
    const roles: string[] = [];
    for (const [name, definition] of Object.entries(props.definitions)) {
      if (!NAME.test(name))
        throw new Error(`Container job definition name ${JSON.stringify(name)}: use 1-64 of A-Z a-z 0-9 _ -`);
      const taskDefinition = new ecs.FargateTaskDefinition(this, name, {
        cpu: definition.cpu ?? 1024,
        memoryLimitMiB: definition.memoryLimitMiB ?? 2048,
        runtimePlatform: {
          operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
          cpuArchitecture:
            definition.cpuArchitecture === "arm64" ? ecs.CpuArchitecture.ARM64 : ecs.CpuArchitecture.X86_64,
        },
      });
      taskDefinition.taskRole.addManagedPolicy(props.policy);
      taskDefinition.addContainer("Task", {
        image: definition.image,
        command: ["--once", "--command", definition.command ?? "/opt/tasks/run.sh", "--data-dir", "/data"],
        logging: ecs.LogDrivers.awsLogs({ streamPrefix: `job-${name}`, logGroup: props.logGroup }),
      });
      acknowledge(taskDefinition, "The environment holds only resource names, no secrets.", "AwsSolutions-ECS2");
      if (taskDefinition.executionRole) {
        acknowledge(
          taskDefinition.executionRole,
          "ecr:GetAuthorizationToken has no resource-level permissions; the image pull is scoped to its repository.",
          "AwsSolutions-IAM5[Resource::*]",
        );
        roles.push(taskDefinition.executionRole.roleArn);
      }
      const extra = (definition.extraTaskRoles ?? []).map((role) => role.roleArn);
      roles.push(taskDefinition.taskRole.roleArn, ...extra);
      this.taskDefinitions[name] = taskDefinition;
      taskDefinitions[name] = { arn: taskDefinition.taskDefinitionArn, container: "Task", roles: extra };
    }
    this.setup = {
      cluster: props.cluster.clusterArn,
      subnets: props.subnetIds,
      securityGroups: props.securityGroupIds,
      assignPublicIp: props.assignPublicIp,
      taskDefinitions,
      environment: props.environment,
    };
    const definitionArns = Object.values(this.taskDefinitions).map((d) => d.taskDefinitionArn);
    const stack = Stack.of(this);
    const clusterTasks = `arn:${stack.partition}:ecs:${stack.region}:${stack.account}:task/${props.cluster.clusterName}/*`;
    this.launchStatements = [
      new iam.PolicyStatement({
        sid: "RunContainerJobs",
        actions: ["ecs:RunTask"],
        resources: definitionArns,
        conditions: { ArnEquals: { "ecs:cluster": props.cluster.clusterArn } },
      }),
      new iam.PolicyStatement({
        sid: "TagContainerJobs",
        actions: ["ecs:TagResource"],
        resources: [`arn:${Stack.of(this).partition}:ecs:${Stack.of(this).region}:${Stack.of(this).account}:task/*`],
        conditions: { StringEquals: { "ecs:CreateAction": "RunTask" } },
      }),
      new iam.PolicyStatement({
        // Kills, orphans and maximum runtimes: only tasks RunTask tagged with their attempt, in this cluster.
        sid: "StopContainerJobs",
        actions: ["ecs:StopTask"],
        resources: [clusterTasks],
        conditions: {
          ArnEquals: { "ecs:cluster": props.cluster.clusterArn },
          Null: { [`aws:ResourceTag/${ATTEMPT_TAG}`]: "false" },
        },
      }),
      new iam.PolicyStatement({
        // Finding an attempt's task and what became of it (lost tasks): reads, in this cluster only.
        sid: "DescribeContainerJobs",
        actions: ["ecs:DescribeTasks"],
        resources: [clusterTasks],
        conditions: { ArnEquals: { "ecs:cluster": props.cluster.clusterArn } },
      }),
      new iam.PolicyStatement({
        // ListTasks has no task-level resource: the cluster condition scopes it.
        sid: "ListContainerJobs",
        actions: ["ecs:ListTasks"],
        resources: ["*"],
        conditions: { ArnEquals: { "ecs:cluster": props.cluster.clusterArn } },
      }),
      new iam.PolicyStatement({
        sid: "PassContainerJobRoles",
        actions: ["iam:PassRole"],
        resources: roles,
        conditions: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } },
      }),
    ];
  }
}
