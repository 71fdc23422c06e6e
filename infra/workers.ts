// Workers on ECS: a cluster and a service running `sous worker --api URL` from the worker image
// (Dockerfile.worker), on Fargate by default or on an EC2 Auto Scaling group, with the worker
// policy as the task role, scaled on the scheduler's backlog between 0 and a maximum.
//
// Why the backlog and not a queue depth or CPU: Sous never queues work it cannot place. Pending
// tasks are implied in DynamoDB and a start message goes only to a worker with room, so worker
// queues stay near empty whatever the demand. Each round counts what it could not place
// (runnable-pending) and what runs, and publishes both (lib/round/backlog-metrics.ts); the
// service runs ceil((pending + running) / tasksPerWorker) workers, none when both are zero.
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as appscaling from "aws-cdk-lib/aws-applicationautoscaling";
import * as autoscaling from "aws-cdk-lib/aws-autoscaling";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import { Platform } from "aws-cdk-lib/aws-ecr-assets";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as iam from "aws-cdk-lib/aws-iam";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";

import { BACKLOG_METRICS, BACKLOG_NAMESPACE } from "../lib/round/backlog-metrics";
import { REPO_ROOT } from "./lambda";
import { acknowledge } from "./nag";

export interface SousWorkersProps {
  /**
   * The worker image. Default: built from `Dockerfile.worker` at the repository root by `cdk
   * deploy` (needs Docker at deploy time only; synth only copies the build context). Pass
   * `ContainerImage.fromRegistry(uri)` to run an image you built and pushed yourself, typically
   * one `FROM` the Sous worker image that adds your task scripts.
   */
  image?: ecs.ContainerImage;
  /** `--command`: what tasks run, a path inside the image. Default `/opt/tasks/run.sh`. */
  command?: string;
  /** `--resources`: the worker-level capacity each worker declares, e.g. `{cpu: 4}`. Default none. */
  resources?: Record<string, number>;
  /** Task CPU units (1024 = 1 vCPU). Default 512. */
  cpu?: number;
  /** Task memory in MiB. Default 1024. */
  memoryLimitMiB?: number;
  /** Workers at deploy time. Default `minCount`. */
  desiredCount?: number;
  /** Scaling bounds. Default 0 (an idle deployment runs no worker) and 4. */
  minCount?: number;
  maxCount?: number;
  /**
   * Tasks one worker is expected to run at once: the service runs ceil(backlog / tasksPerWorker)
   * workers, where the backlog is runnable-pending plus running tasks. Default 4.
   */
  tasksPerWorker?: number;
  /**
   * Default X86_64: task commands are often x86 binaries, and building an ARM image on an x86 host
   * needs QEMU. ARM64 (Graviton) costs about 20 % less per vCPU-hour.
   */
  cpuArchitecture?: "x86_64" | "arm64";
  /** Run on EC2 instances of this type in an Auto Scaling group instead of Fargate. */
  ec2Capacity?: { instanceType: ec2.InstanceType; minCapacity?: number; maxCapacity?: number };
  /** Container Insights metrics (extra CloudWatch cost per task). Default true. */
  containerInsights?: boolean;
  /** Seconds between SIGTERM and SIGKILL when ECS stops a worker (Fargate allows at most 120). Default 90. */
  stopTimeoutSec?: number;
}

export interface SousWorkerServiceProps extends SousWorkersProps {
  vpc: ec2.IVpc;
  subnets: ec2.SubnetSelection;
  assignPublicIp: boolean;
  apiUrl: string;
  /** Table and bucket the worker writes task logs to (its environment). */
  environment: Record<string, string>;
  /** The dimensions of the round's backlog metrics for this deployment. */
  backlogDimensions: Record<string, string>;
  policy: iam.IManagedPolicy;
  logRetention: logs.RetentionDays;
  removalPolicy: RemovalPolicy;
}

const DATA_DIR = "/data";

export class SousWorkerService extends Construct {
  readonly cluster: ecs.Cluster;
  readonly service: ecs.FargateService | ecs.Ec2Service;
  readonly taskDefinition: ecs.TaskDefinition;
  readonly logGroup: logs.LogGroup;
  readonly autoScalingGroup?: autoscaling.AutoScalingGroup;
  /** runnable-pending + running tasks, per minute: what the service scales on. */
  readonly backlogMetric: cloudwatch.IMetric;

  constructor(scope: Construct, id: string, props: SousWorkerServiceProps) {
    super(scope, id);
    const arm = props.cpuArchitecture === "arm64";
    const cpu = props.cpu ?? 512;
    const memoryLimitMiB = props.memoryLimitMiB ?? 1024;
    this.cluster = new ecs.Cluster(this, "Cluster", {
      vpc: props.vpc,
      containerInsightsV2:
        (props.containerInsights ?? true) ? ecs.ContainerInsights.ENABLED : ecs.ContainerInsights.DISABLED,
    });
    this.logGroup = new logs.LogGroup(this, "Logs", {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    const securityGroup = new ec2.SecurityGroup(this, "SecurityGroup", {
      vpc: props.vpc,
      description: "Sous workers: no inbound traffic; outbound HTTPS to AWS APIs and whatever tasks need",
      allowAllOutbound: true,
    });

    const ec2Capacity = props.ec2Capacity;
    const runtimePlatform: ecs.RuntimePlatform = {
      operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      cpuArchitecture: arm ? ecs.CpuArchitecture.ARM64 : ecs.CpuArchitecture.X86_64,
    };
    this.taskDefinition = ec2Capacity
      ? // Bridge networking: tasks use the instance's public address, so no NAT gateway is needed.
        new ecs.Ec2TaskDefinition(this, "TaskDefinition", { networkMode: ecs.NetworkMode.BRIDGE })
      : new ecs.FargateTaskDefinition(this, "TaskDefinition", { cpu, memoryLimitMiB, runtimePlatform });
    this.taskDefinition.taskRole.addManagedPolicy(props.policy);

    const image =
      props.image ??
      ecs.ContainerImage.fromAsset(REPO_ROOT, {
        file: "Dockerfile.worker",
        platform: arm ? Platform.LINUX_ARM64 : Platform.LINUX_AMD64,
      });
    this.taskDefinition.addContainer("Worker", {
      image,
      command: workerArguments(props.apiUrl, props.command ?? "/opt/tasks/run.sh", props.resources),
      environment: props.environment,
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: "worker", logGroup: this.logGroup }),
      // Tasks run in their own process groups; their orphans must be reaped (docs/task-protocol.md).
      linuxParameters: new ecs.LinuxParameters(this, "LinuxParameters", { initProcessEnabled: true }),
      stopTimeout: Duration.seconds(props.stopTimeoutSec ?? 90),
      ...(ec2Capacity ? { cpu, memoryLimitMiB } : {}),
    });
    acknowledge(
      this.taskDefinition,
      "The environment holds only resource names (table, bucket, region), no secrets.",
      "AwsSolutions-ECS2",
    );
    if (this.taskDefinition.executionRole) {
      acknowledge(
        this.taskDefinition.executionRole,
        "ecr:GetAuthorizationToken has no resource-level permissions; the image pull itself is scoped to the " +
          "image's repository.",
        "AwsSolutions-IAM5[Resource::*]",
      );
    }

    const bounds = { min: props.minCount ?? 0, max: props.maxCount ?? 4 };
    if (!(Number.isInteger(bounds.min) && Number.isInteger(bounds.max) && bounds.min >= 0 && bounds.max >= 1)) {
      throw new Error(
        `Worker counts must be whole numbers, minCount >= 0 and maxCount >= 1 (got ${bounds.min}, ${bounds.max}).`,
      );
    }
    if (bounds.min > bounds.max) throw new Error(`minCount ${bounds.min} is above maxCount ${bounds.max}.`);
    if (!(Number.isInteger(props.tasksPerWorker ?? 4) && (props.tasksPerWorker ?? 4) >= 1)) {
      throw new Error(`tasksPerWorker must be a whole number >= 1 (got ${props.tasksPerWorker}).`);
    }
    // `as`: CDK classes declare `x: T | undefined` where their interfaces say `x?: T`, which
    // exactOptionalPropertyTypes refuses to assign; the class is that interface's implementation.
    const common = {
      cluster: this.cluster as ecs.ICluster,
      taskDefinition: this.taskDefinition,
      desiredCount: props.desiredCount ?? bounds.min,
      circuitBreaker: { rollback: true },
      // A deployment starts the new workers before stopping the old ones.
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
    };
    if (ec2Capacity) {
      // An explicit launch template: new accounts can no longer create launch configurations,
      // which is what an Auto Scaling group gets by default without CDK's feature flag.
      const instanceRole = new iam.Role(this, "InstanceRole", {
        assumedBy: new iam.ServicePrincipal("ec2.amazonaws.com"),
      });
      const launchTemplate = new ec2.LaunchTemplate(this, "LaunchTemplate", {
        instanceType: ec2Capacity.instanceType,
        machineImage: ecs.EcsOptimizedImage.amazonLinux2023(
          arm ? ecs.AmiHardwareType.ARM : ecs.AmiHardwareType.STANDARD,
        ),
        userData: ec2.UserData.forLinux(),
        role: instanceRole,
        securityGroup,
        associatePublicIpAddress: props.assignPublicIp,
        requireImdsv2: true,
        blockDevices: [
          {
            deviceName: "/dev/xvda",
            volume: ec2.BlockDeviceVolume.ebs(30, { encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3 }),
          },
        ],
      });
      this.autoScalingGroup = new autoscaling.AutoScalingGroup(this, "Instances", {
        vpc: props.vpc,
        vpcSubnets: props.subnets,
        launchTemplate,
        // The capacity provider's managed scaling follows the service: no instance while idle.
        minCapacity: ec2Capacity.minCapacity ?? 0,
        maxCapacity: ec2Capacity.maxCapacity ?? bounds.max,
      });
      const capacityProvider = new ecs.AsgCapacityProvider(this, "CapacityProvider", {
        autoScalingGroup: this.autoScalingGroup,
        enableManagedTerminationProtection: false,
        // ECS drains an instance's tasks before the group terminates it (and CDK then adds no drain-hook Lambda).
        enableManagedDraining: true,
      });
      this.cluster.addAsgCapacityProvider(capacityProvider);
      acknowledge(
        instanceRole,
        "The ECS agent's permissions as CDK grants them: ecs:DiscoverPollEndpoint, ecr:GetAuthorizationToken and " +
          "the log actions have no resource-level permissions, ecs:Submit* covers the agent's state-change calls.",
        "AwsSolutions-IAM5[Resource::*]",
        "AwsSolutions-IAM5[Action::ecs:Submit*]",
      );
      acknowledge(
        this.autoScalingGroup,
        "Scaling activity is visible in the ECS service events and CloudWatch; no one subscribes to per-instance " +
          "launch/terminate notifications.",
        "AwsSolutions-AS3",
      );
      this.service = new ecs.Ec2Service(this, "Service", {
        ...common,
        capacityProviderStrategies: [{ capacityProvider: capacityProvider.capacityProviderName, weight: 1 }],
      });
    } else {
      this.service = new ecs.FargateService(this, "Service", {
        ...common,
        vpcSubnets: props.subnets,
        assignPublicIp: props.assignPublicIp,
        securityGroups: [securityGroup],
      });
    }
    const scaling = this.service.autoScaleTaskCount({ minCapacity: bounds.min, maxCapacity: bounds.max });
    this.backlogMetric = backlogMetric(props.backlogDimensions);
    scaling.scaleOnMetric("Backlog", {
      metric: this.backlogMetric,
      adjustmentType: appscaling.AdjustmentType.EXACT_CAPACITY,
      scalingSteps: backlogScalingSteps(bounds, props.tasksPerWorker ?? 4),
      // Short: a backlog should get workers within a minute or two. Running tasks count in the
      // backlog, so the capacity never drops below what the running tasks need.
      cooldown: Duration.minutes(1),
      evaluationPeriods: 1,
    });
  }
}

/** The container's arguments after the image's `sous worker` entry point. */
export function workerArguments(apiUrl: string, command: string, resources?: Record<string, number>): string[] {
  const args = ["--api", apiUrl, "--command", command, "--data-dir", DATA_DIR];
  const declared = Object.entries(resources ?? {});
  if (declared.length > 0) args.push("--resources", declared.map(([name, amount]) => `${name}=${amount}`).join(","));
  return args;
}

/** The round's backlog, runnable-pending plus running tasks, as a per-minute maximum. */
export function backlogMetric(dimensions: Record<string, string>): cloudwatch.MathExpression {
  const metric = (metricName: string) =>
    new cloudwatch.Metric({
      namespace: BACKLOG_NAMESPACE,
      metricName,
      dimensionsMap: dimensions,
      statistic: "Maximum",
      period: Duration.minutes(1),
    });
  return new cloudwatch.MathExpression({
    expression: "pending + running",
    usingMetrics: { pending: metric(BACKLOG_METRICS.runnablePending), running: metric(BACKLOG_METRICS.running) },
    period: Duration.minutes(1),
    label: "Sous backlog (runnable-pending + running tasks)",
  });
}

/**
 * Exact-capacity steps over the backlog b: 0 workers for b = 0, else ceil(b / tasksPerWorker)
 * clamped to [min, max]. At most 10 steps (beyond that, capacities grow in even strides), with
 * bounds between whole backlogs (x.5) so each whole value falls in exactly one step.
 */
export function backlogScalingSteps(
  bounds: { min: number; max: number },
  tasksPerWorker: number,
): appscaling.ScalingInterval[] {
  const stepCount = Math.min(bounds.max, 10);
  const capacities: number[] = [];
  for (let i = 1; i <= stepCount; i++) capacities.push(Math.ceil((i * bounds.max) / stepCount));
  const steps: appscaling.ScalingInterval[] = [{ upper: 0.5, change: bounds.min }];
  let lower = 0.5;
  capacities.forEach((capacity, i) => {
    const upper = capacity * tasksPerWorker + 0.5;
    const change = Math.max(bounds.min, capacity);
    steps.push(i === capacities.length - 1 ? { lower, change } : { lower, upper, change });
    lower = upper;
  });
  return steps;
}
