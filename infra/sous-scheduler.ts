// `SousScheduler`: a whole Sous deployment as one reusable construct (the table, the status queue
// and its DLQ, the log bucket, the three functions, the REST API, ECS workers, the self-managed
// worker policy, alarms), so users can embed Sous in their own CDK apps. `SousStack` wraps it.
import { CfnOutput, Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import type * as sns from "aws-cdk-lib/aws-sns";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";

import { DEPLOYMENT_DIMENSION, ROUND_SERVICE_NAME } from "../lib/round/backlog-metrics";
import { DEFAULT_LOG_KEY_PREFIX, DEFAULT_LOG_RETENTION_DAYS, SCHEDULER_LOG_OWNER } from "../lib/logs/keys";
import { TTL_ATTRIBUTE } from "../lib/store/keys";
import { TABLE_KEY_SCHEMA } from "../lib/store/table";
import { SousApi, type SousApiAuthorization } from "./api";
import { SousFunction } from "./lambda";
import { SousMonitoring } from "./monitoring";
import { checkQueuePrefix, defaultQueuePrefix, workerQueueArnPattern } from "./names";
import { acknowledge, wildcardResourceFinding } from "./nag";
import { CHECKPOINT_KEY } from "../lib/round/checkpoint";
import { SousContainerJobs, type ContainerJobDefinition } from "./container-jobs";
import { SousWorkerHosts, type SousWorkerHostsProps } from "./worker-hosts";
import { WorkerPolicy } from "./worker-policy";
import { SousWorkerService, type SousWorkersProps } from "./workers";

/**
 * Item reads and writes (transactions need the per-item actions). Not grantReadWriteData: Sous
 * never scans, describes the table or reads a stream on AWS.
 */
export const TABLE_DATA_ACTIONS = [
  "dynamodb:GetItem",
  "dynamodb:BatchGetItem",
  "dynamodb:Query",
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
  "dynamodb:BatchWriteItem",
  "dynamodb:ConditionCheckItem",
] as const;

export interface SousSchedulerProps {
  /** Per-worker queues are `<prefix>-w-<worker id>`. Default: unique per construct path, at most 40 characters. */
  queuePrefix?: string;
  /** Bistro's --instance_node_name. Default "instance". */
  instanceNodeName?: string;
  /** DynamoDB deletion protection. Default true: the table holds the scheduler's whole state. */
  deletionProtection?: boolean;
  /** What `cdk destroy` does to the table, bucket and log groups. Default RETAIN. */
  removalPolicy?: RemovalPolicy;
  /** Task log retention (Bistro's --log_retention); S3 objects expire a day after their index. Default 30. */
  logRetentionDays?: number;
  /** Retention of the functions', API's and workers' own CloudWatch logs. Default one month. */
  serviceLogRetention?: logs.RetentionDays;
  /** Default IAM (SigV4). */
  apiAuthorization?: SousApiAuthorization;
  /** Stage-wide API throttling. Default 50 requests/s, burst 100. */
  apiThrottle?: { rateLimit: number; burstLimit: number };
  /** Create API Gateway's account-wide CloudWatch role (for execution logs). Default true. */
  apiCloudWatchRole?: boolean;
  /** X-Ray tracing of the API and the functions. Default true. */
  tracing?: boolean;
  /** Task ends per status-ingest invocation (1-10000; over 10 needs the window). Default 100. */
  statusBatchSize?: number;
  /** How long status ingestion may wait to fill a batch. Default 1 s. */
  statusBatchWindow?: Duration;
  /** Memory of the round function (CPU grows with it; planning is CPU-bound). Default 1024 MiB. */
  roundMemoryMiB?: number;
  /** How often rounds refresh the node sources (Bistro's --nodes_update_ms). Default 300 s. */
  nodesUpdate?: Duration;
  /** Wait before retrying a failed node refresh (Bistro's --nodes_retry_ms). Default 30 s. */
  nodesRetry?: Duration;
  /**
   * The AWS-native node sources the config may use; the round function is granted exactly these.
   * Default none (an `s3_prefixes` or `rds` entry then fails its refresh with AccessDenied).
   */
  nodeSources?: SousNodeSourceGrants;
  /** ECS workers; `false` for self-managed workers only (no VPC, no cluster). Default: Fargate. */
  workers?: SousWorkersProps | false;
  /** VPC for ECS workers. Default: a new one with public subnets only (see docs/deploy.md). */
  vpc?: ec2.IVpc;
  /** Subnets of the workers. Default: public subnets of a new VPC, private-with-egress of a given one. */
  vpcSubnets?: ec2.SubnetSelection;
  /** Give Fargate workers a public address. Default: true in a new VPC, false in a given one. */
  assignPublicIp?: boolean;
  /**
   * Self-managed worker hosts: an EC2 Auto Scaling group whose instances install the `npm pack`
   * artifact and run `sous worker` under systemd (in the workers' VPC and subnets). Default none.
   */
  selfManagedHosts?: SousWorkerHostsProps;
  /**
   * Task definitions that jobs with a `container` key may name (docs/containers.md): each start of
   * such a job runs as its own Fargate task in the workers' cluster. Default none.
   */
  containerJobs?: Record<string, ContainerJobDefinition>;
  /** Also create a role with the worker policy that this principal may assume (e.g. `ec2.amazonaws.com`). */
  workerHostPrincipal?: iam.IPrincipal;
  /** Alarm notifications. Default none. */
  alarmTopic?: sns.ITopic;
  /** A CloudWatch dashboard ($3/month beyond the free three). Default true. */
  dashboard?: boolean;
}

export interface SousNodeSourceGrants {
  /** Buckets and key prefixes `s3_prefixes` lists: s3:ListBucket on each bucket, only under its prefix. */
  s3Prefixes?: { bucket: string; prefix?: string }[];
  /** Allow `rds` (rds:DescribeDBClusters and rds:DescribeDBInstances, which take no resource scope). */
  rds?: boolean;
}

export class SousScheduler extends Construct {
  readonly table: dynamodb.Table;
  readonly statusQueue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly logBucket: s3.Bucket;
  readonly roundFunction: SousFunction;
  readonly ingestFunction: SousFunction;
  readonly apiFunction: SousFunction;
  readonly api: SousApi;
  readonly workerPolicy: iam.ManagedPolicy;
  readonly workerHostRole?: iam.Role;
  /** With an EC2 `workerHostPrincipal`: the instance profile to launch worker hosts with. */
  readonly workerHostInstanceProfile?: iam.InstanceProfile;
  readonly workers?: SousWorkerService;
  readonly workerHosts?: SousWorkerHosts;
  readonly containerJobs?: SousContainerJobs;
  readonly vpc?: ec2.IVpc;
  readonly monitoring: SousMonitoring;
  readonly queuePrefix: string;

  constructor(scope: Construct, id: string, props: SousSchedulerProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const serviceLogRetention = props.serviceLogRetention ?? logs.RetentionDays.ONE_MONTH;
    const tracing = props.tracing ?? true;
    const logRetentionDays = props.logRetentionDays ?? DEFAULT_LOG_RETENTION_DAYS;
    this.queuePrefix = checkQueuePrefix(props.queuePrefix ?? defaultQueuePrefix(this));
    const workerQueues = workerQueueArnPattern(stack, this.queuePrefix);

    // --- State
    this.table = new dynamodb.Table(this, "Table", {
      partitionKey: { name: TABLE_KEY_SCHEMA.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_KEY_SCHEMA.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: props.deletionProtection ?? true,
      removalPolicy,
      timeToLiveAttribute: TTL_ATTRIBUTE,
    });

    const ingestTimeout = Duration.seconds(30);
    this.deadLetterQueue = new sqs.Queue(this, "StatusDeadLetters", {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.statusQueue = new sqs.Queue(this, "StatusQueue", {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // AWS's advice for Lambda consumers: six times the function timeout, plus the batching window.
      visibilityTimeout: Duration.seconds(ingestTimeout.toSeconds() * 6 + 30),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: 5 },
    });

    this.logBucket = new s3.Bucket(this, "TaskLogs", {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: false,
      removalPolicy,
      lifecycleRules: [
        {
          id: "expire-task-logs",
          prefix: DEFAULT_LOG_KEY_PREFIX,
          // A day after the index items (DynamoDB TTL), so no live index entry points at a deleted segment.
          expiration: Duration.days(logRetentionDays + 1),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });
    acknowledge(
      this.logBucket,
      "Only Sous principals can reach the bucket (no public access, TLS only); server access logs would cost a " +
        "second bucket for little. Enable CloudTrail S3 data events to audit object access.",
      "AwsSolutions-S1",
    );

    // --- Functions
    const common = { logRetention: serviceLogRetention, removalPolicy, tracing };
    const instanceName = props.instanceNodeName ?? "instance";
    this.roundFunction = new SousFunction(this, "SchedulerRound", {
      ...common,
      entry: "SchedulerRound",
      description: "Sous scheduling round (schedule and pokes)",
      environment: {
        TABLE_NAME: this.table.tableName,
        INSTANCE_NODE_NAME: instanceName,
        // The backlog metrics' Deployment dimension (lib/round/backlog-metrics.ts).
        SOUS_DEPLOYMENT: this.queuePrefix,
        NODES_UPDATE_MS: String((props.nodesUpdate ?? Duration.minutes(5)).toMilliseconds()),
        NODES_RETRY_MS: String((props.nodesRetry ?? Duration.seconds(30)).toMilliseconds()),
      },
      memorySize: props.roundMemoryMiB ?? 1024,
      timeout: Duration.minutes(2),
      // One round at a time; the lease makes a second one harmless anyway.
      reservedConcurrentExecutions: 1,
    });
    const round = this.roundFunction.fn;
    grantNodeSources(this.roundFunction.role, props.nodeSources ?? {});
    // A failed round is not retried: the next tick or poke runs another. Pokes that wait behind a
    // running round are dropped after a minute; that round saw their mark and runs again.
    round.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(1) });
    new events.Rule(this, "RoundSchedule", {
      description: "Sous backstop round every minute",
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [new targets.LambdaFunction(round, { retryAttempts: 0, maxEventAge: Duration.minutes(1) })],
    });
    const invokeRound = new iam.PolicyStatement({
      sid: "PokeRound",
      actions: ["lambda:InvokeFunction"],
      resources: [round.functionArn],
    });

    this.ingestFunction = new SousFunction(this, "StatusIngest", {
      ...common,
      entry: "StatusIngest",
      description: "Sous status ingestion (task ends from workers)",
      environment: { TABLE_NAME: this.table.tableName, ROUND_FUNCTION_NAME: round.functionName },
      memorySize: 512,
      timeout: ingestTimeout,
    });
    this.ingestFunction.fn.addEventSource(
      new SqsEventSource(this.statusQueue, {
        batchSize: props.statusBatchSize ?? 100,
        maxBatchingWindow: props.statusBatchWindow ?? Duration.seconds(1),
        reportBatchItemFailures: true,
      }),
    );
    this.ingestFunction.role.addToPolicy(invokeRound);

    this.apiFunction = new SousFunction(this, "Api", {
      ...common,
      entry: "Api",
      description: "Sous HTTP API",
      environment: {
        TABLE_NAME: this.table.tableName,
        WORKER_QUEUE_PREFIX: this.queuePrefix,
        STATUS_QUEUE_URL: this.statusQueue.queueUrl,
        ROUND_FUNCTION_NAME: round.functionName,
        LOG_BUCKET: this.logBucket.bucketName,
        INSTANCE_NODE_NAME: instanceName,
      },
      memorySize: 1024,
      // API Gateway gives up after 29 s.
      timeout: Duration.seconds(29),
    });
    this.apiFunction.role.addToPolicy(invokeRound);

    // --- Permissions of the functions, each scoped to what it touches.
    for (const fn of [this.roundFunction, this.ingestFunction, this.apiFunction]) {
      this.table.grant(fn.role, ...TABLE_DATA_ACTIONS);
    }
    this.roundFunction.role.addToPolicy(
      new iam.PolicyStatement({ sid: "StartAndKillOrders", actions: ["sqs:SendMessage"], resources: [workerQueues] }),
    );
    // Wake-ups for the round's timers: delayed messages on the status queue (lib/round/wake.ts).
    this.roundFunction.role.addToPolicy(
      new iam.PolicyStatement({ sid: "WakeUps", actions: ["sqs:SendMessage"], resources: [this.statusQueue.queueArn] }),
    );
    round.addEnvironment("STATUS_QUEUE_URL", this.statusQueue.queueUrl);
    // The `statuses` lines of attempts the round ends unseen: its own folder of the log prefix
    // only (no worker identity can have that name); index items go through the table grant.
    const schedulerLogObjects = this.logBucket.arnForObjects(`${DEFAULT_LOG_KEY_PREFIX}${SCHEDULER_LOG_OWNER}/*`);
    this.roundFunction.role.addToPolicy(
      new iam.PolicyStatement({
        sid: "SchedulerStatusLines",
        actions: ["s3:PutObject"],
        resources: [schedulerLogObjects],
      }),
    );
    // Checkpoints of the task state (cold starts read one object instead of every task item): that
    // one object, read and written; nothing else of the bucket is readable.
    this.roundFunction.role.addToPolicy(
      new iam.PolicyStatement({
        sid: "TaskStateCheckpoint",
        actions: ["s3:GetObject", "s3:PutObject"],
        resources: [this.logBucket.arnForObjects(CHECKPOINT_KEY)],
      }),
    );
    round.addEnvironment("LOG_BUCKET", this.logBucket.bucketName);
    acknowledge(
      this.roundFunction.role,
      "The round writes its status-line segments, named at run time, in its own folder of the task-logs prefix; PutObject only.",
      wildcardResourceFinding(this, schedulerLogObjects),
    );
    const runtimeQueues =
      "Per-worker queues are created at run time by worker registration; the `<prefix>-w-` name prefix is the " +
      "narrowest bound that exists at deploy time.";
    acknowledge(this.roundFunction.role, runtimeQueues, wildcardResourceFinding(this, workerQueues));
    acknowledge(this.apiFunction.role, runtimeQueues, wildcardResourceFinding(this, workerQueues));
    this.apiFunction.role.addToPolicy(
      new iam.PolicyStatement({
        // Registration creates the queue, sets its owner-only TLS-only policy (which needs the
        // queue's ARN), and deletes a queue its failed registration left; kills are sent to it.
        sid: "WorkerQueues",
        actions: [
          "sqs:CreateQueue",
          "sqs:GetQueueAttributes",
          "sqs:SetQueueAttributes",
          "sqs:DeleteQueue",
          "sqs:SendMessage",
        ],
        resources: [workerQueues],
      }),
    );
    this.apiFunction.role.addToPolicy(
      new iam.PolicyStatement({
        sid: "ReadTaskLogs",
        actions: ["s3:GetObject"],
        resources: [this.logBucket.arnForObjects(`${DEFAULT_LOG_KEY_PREFIX}*`)],
      }),
    );
    acknowledge(
      this.apiFunction.role,
      "Log segments are named by workers at run time; the API may only read objects under the task-logs prefix.",
      wildcardResourceFinding(this, this.logBucket.arnForObjects(`${DEFAULT_LOG_KEY_PREFIX}*`)),
    );

    // --- API
    this.api = new SousApi(this, "Http", {
      handler: this.apiFunction.fn,
      authorization: props.apiAuthorization ?? { type: "iam" },
      throttle: props.apiThrottle ?? { rateLimit: 50, burstLimit: 100 },
      tracing,
      logRetention: serviceLogRetention,
      removalPolicy,
      cloudWatchRole: props.apiCloudWatchRole ?? true,
    });

    // --- Workers: the policy every worker gets, ECS or self-managed.
    this.workerPolicy = new WorkerPolicy(this, "WorkerPolicy", {
      api: this.api.api,
      table: this.table,
      statusQueue: this.statusQueue,
      logBucket: this.logBucket,
      logKeyPrefix: DEFAULT_LOG_KEY_PREFIX,
      queuePrefix: this.queuePrefix,
    }).policy;
    if (props.workerHostPrincipal) {
      this.workerHostRole = new iam.Role(this, "WorkerHostRole", {
        assumedBy: props.workerHostPrincipal,
        description: "Sous self-managed worker host",
        managedPolicies: [this.workerPolicy],
      });
      if (
        props.workerHostPrincipal instanceof iam.ServicePrincipal &&
        props.workerHostPrincipal.service === "ec2.amazonaws.com"
      ) {
        this.workerHostInstanceProfile = new iam.InstanceProfile(this, "WorkerHostInstanceProfile", {
          role: this.workerHostRole,
        });
      }
    }
    // The names `sous worker` reads (docs/cli.md).
    const workerEnvironment = {
      SOUS_TABLE: this.table.tableName,
      SOUS_LOG_BUCKET: this.logBucket.bucketName,
      AWS_REGION: stack.region,
    };
    if (props.workers !== false || props.selfManagedHosts) {
      const ownVpc = props.vpc === undefined;
      // `as`: CDK classes declare `x: T | undefined` where their interfaces say `x?: T`, which
      // exactOptionalPropertyTypes refuses to assign; the class is that interface's implementation.
      const vpc = props.vpc ?? (this.minimalVpc(serviceLogRetention, removalPolicy) as ec2.IVpc);
      this.vpc = vpc;
      const network = {
        vpc,
        subnets: props.vpcSubnets ?? {
          subnetType: ownVpc ? ec2.SubnetType.PUBLIC : ec2.SubnetType.PRIVATE_WITH_EGRESS,
        },
        assignPublicIp: props.assignPublicIp ?? ownVpc,
      };
      if (props.workers !== false) {
        this.workers = new SousWorkerService(this, "Workers", {
          ...(props.workers ?? {}),
          ...network,
          apiUrl: this.api.url,
          environment: workerEnvironment,
          backlogDimensions: { service: ROUND_SERVICE_NAME, [DEPLOYMENT_DIMENSION]: this.queuePrefix },
          policy: this.workerPolicy,
          logRetention: serviceLogRetention,
          removalPolicy,
        });
      }
      if (props.selfManagedHosts) {
        this.workerHosts = new SousWorkerHosts(this, "WorkerHosts", {
          ...props.selfManagedHosts,
          ...network,
          apiUrl: this.api.url,
          policy: this.workerPolicy,
        });
      }
    }

    if (props.containerJobs && Object.keys(props.containerJobs).length > 0) {
      const workers = this.workers;
      if (!workers) throw new Error("containerJobs run in the ECS workers' cluster: they need `workers` (not false).");
      this.containerJobs = new SousContainerJobs(this, "ContainerJobs", {
        definitions: props.containerJobs,
        cluster: workers.cluster,
        subnetIds: workers.cluster.vpc.selectSubnets(workers.subnets).subnetIds,
        securityGroupIds: [workers.securityGroup.securityGroupId],
        assignPublicIp: workers.assignPublicIp,
        policy: this.workerPolicy,
        logGroup: workers.logGroup,
        environment: {
          statusQueueUrl: this.statusQueue.queueUrl,
          tableName: this.table.tableName,
          logBucket: this.logBucket.bucketName,
        },
      });
      for (const statement of this.containerJobs.launchStatements) this.roundFunction.role.addToPolicy(statement);
      round.addEnvironment("SOUS_CONTAINER_SETUP", stack.toJsonString(this.containerJobs.setup));
      acknowledge(
        this.roundFunction.role,
        "RunTask tags the task it creates; task ARNs exist only at run time, and the condition allows tagging " +
          "only as part of RunTask.",
        wildcardResourceFinding(this, `arn:${stack.partition}:ecs:${stack.region}:${stack.account}:task/*`),
      );
      acknowledge(
        this.roundFunction.role,
        "Container tasks exist only at run time: StopTask and DescribeTasks are limited to the workers' cluster " +
          "by resource and condition (StopTask also to tasks tagged with a Sous attempt); ListTasks has no " +
          "resource-level permission and is limited by the cluster condition.",
        wildcardResourceFinding(
          this,
          `arn:${stack.partition}:ecs:${stack.region}:${stack.account}:task/${workers.cluster.clusterName}/*`,
        ),
        "AwsSolutions-IAM5[Resource::*]",
      );
    }

    this.monitoring = new SousMonitoring(this, "Monitoring", {
      roundFunction: round,
      roundLogGroup: this.roundFunction.logGroup,
      ingestFunction: this.ingestFunction.fn,
      apiFunction: this.apiFunction.fn,
      api: this.api.api,
      statusQueue: this.statusQueue,
      deadLetterQueue: this.deadLetterQueue,
      ...(this.workers ? { workerService: this.workers.service } : {}),
      ...(props.alarmTopic ? { alarmTopic: props.alarmTopic } : {}),
      dashboard: props.dashboard ?? true,
      deploymentName: this.queuePrefix,
    });

    // --- What a self-managed worker needs to know.
    new CfnOutput(this, "ApiUrl", { value: this.api.url, description: "Sous API base URL" });
    new CfnOutput(this, "TableName", { value: this.table.tableName });
    new CfnOutput(this, "StatusQueueUrl", { value: this.statusQueue.queueUrl });
    new CfnOutput(this, "LogBucketName", { value: this.logBucket.bucketName });
    new CfnOutput(this, "WorkerQueuePrefix", { value: this.queuePrefix });
    new CfnOutput(this, "WorkerPolicyArn", {
      value: this.workerPolicy.managedPolicyArn,
      description: "Attach to the role of every self-managed worker host",
    });
    if (this.workerHostRole) new CfnOutput(this, "WorkerHostRoleArn", { value: this.workerHostRole.roleArn });
    if (this.workerHostInstanceProfile) {
      new CfnOutput(this, "WorkerHostInstanceProfileName", {
        value: this.workerHostInstanceProfile.instanceProfileName,
      });
    }
    new CfnOutput(this, "WorkerCommand", {
      description:
        "Run a self-managed worker where the sous package is installed (npm pack; docs/worker.md), with " +
        "credentials that carry the worker policy; --command is the task script on that host",
      // Registration tells the worker the table, bucket, queues and region: nothing else to set.
      value: `npx --no-install sous worker --api ${this.api.url} --command ${selfManagedCommand(props)}`,
    });
  }

  /**
   * Public subnets in two AZs and no NAT gateway (about $33/month each, plus data): Fargate tasks
   * get a public address and reach SQS and the API over HTTPS; S3 and DynamoDB traffic goes
   * through the free gateway endpoints. Nothing can connect in: the workers' security group has
   * no inbound rule.
   */
  private minimalVpc(retention: logs.RetentionDays, removalPolicy: RemovalPolicy): ec2.Vpc {
    const vpc = new ec2.Vpc(this, "Vpc", {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: "Public", subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }],
      gatewayEndpoints: {
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
        DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
      },
      // Not restricting the default security group avoids a custom-resource Lambda; nothing uses it.
      restrictDefaultSecurityGroup: false,
    });
    vpc.addFlowLog("FlowLogs", {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(
        new logs.LogGroup(this, "FlowLogGroup", { retention, removalPolicy }),
      ),
      trafficType: ec2.FlowLogTrafficType.REJECT,
    });
    return vpc;
  }
}

/** The task command a self-managed worker runs by default: the hosts', else the ECS workers'. */
function selfManagedCommand(props: SousSchedulerProps): string {
  return props.selfManagedHosts?.command ?? (props.workers ? props.workers.command : undefined) ?? "/opt/tasks/run.sh";
}

/**
 * The round function runs the node sources (ADR 0006), so it alone gets what the AWS-native
 * ones read: s3:ListBucket on each named bucket limited by an s3:prefix condition to the
 * configured prefix (up to any `{parent}` placeholder), and the two RDS Describe calls.
 */
function grantNodeSources(role: iam.IRole, grants: SousNodeSourceGrants): void {
  for (const [i, { bucket, prefix = "" }] of (grants.s3Prefixes ?? []).entries()) {
    const fixed = prefix.split("{")[0] ?? "";
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: `NodeSourceS3Prefixes${i}`,
        actions: ["s3:ListBucket"],
        resources: [`arn:${Stack.of(role).partition}:s3:::${bucket}`],
        conditions: { StringLike: { "s3:prefix": [`${fixed}*`] } },
      }),
    );
  }
  if (grants.rds) {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: "NodeSourceRds",
        actions: ["rds:DescribeDBClusters", "rds:DescribeDBInstances"],
        resources: ["*"],
      }),
    );
    acknowledge(
      role,
      "RDS Describe calls list the account's clusters and instances; they support no narrower resource.",
      "AwsSolutions-IAM5[Resource::*]",
    );
  }
}
