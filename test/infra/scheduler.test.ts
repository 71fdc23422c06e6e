// The SousScheduler construct's resources and their security properties (without bundling).
import { App, Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as cognito from "aws-cdk-lib/aws-cognito";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as iam from "aws-cdk-lib/aws-iam";

import { workerQueueName } from "../../lib/dispatch/sqs";
import { DEFAULT_LOG_KEY_PREFIX } from "../../lib/logs/keys";
import { TTL_ATTRIBUTE } from "../../lib/store/keys";
import { TABLE_DATA_ACTIONS } from "../../infra/sous-scheduler";
import { SousStack } from "../../infra/sous-stack";
import { asList, iamStatements, resourcesOfType, synthSous, type Synthesized } from "./synth";

let base: Synthesized;
let template: Template;
beforeAll(() => {
  base = synthSous();
  template = base.template;
});

const resolve = (value: unknown) => JSON.stringify(Stack.of(base.stack).resolve(value));

describe("state", () => {
  test("one on-demand table with pk/sk, PITR, encryption, TTL on expiresAt, deletion protection, retained", () => {
    template.resourceCountIs("AWS::DynamoDB::Table", 1);
    template.hasResource("AWS::DynamoDB::Table", {
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
      Properties: {
        KeySchema: [
          { AttributeName: "pk", KeyType: "HASH" },
          { AttributeName: "sk", KeyType: "RANGE" },
        ],
        BillingMode: "PAY_PER_REQUEST",
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
        DeletionProtectionEnabled: true,
        TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
      },
    });
  });

  test("deletion protection and removal policy are props", () => {
    const { template: t } = synthSous({
      deletionProtection: false,
      removalPolicy: RemovalPolicy.DESTROY,
      workers: false,
    });
    t.hasResource("AWS::DynamoDB::Table", {
      DeletionPolicy: "Delete",
      Properties: { DeletionProtectionEnabled: false },
    });
    t.hasResource("AWS::S3::Bucket", { DeletionPolicy: "Delete" });
  });

  test("status queue: SSE, DLQ after 5 receives, visibility above the ingest timeout; both queues TLS-only", () => {
    const queues = resourcesOfType(template, "AWS::SQS::Queue");
    expect(Object.keys(queues)).toHaveLength(2);
    for (const queue of Object.values(queues)) expect(queue.Properties?.SqsManagedSseEnabled).toBe(true);
    const status = base.stack.scheduler.statusQueue.node.defaultChild;
    template.hasResourceProperties("AWS::SQS::Queue", {
      RedrivePolicy: {
        deadLetterTargetArn: { "Fn::GetAtt": [Match.stringLikeRegexp("StatusDeadLetters"), "Arn"] },
        maxReceiveCount: 5,
      },
    });
    expect(status).toBeDefined();
    const ingestTimeout = base.stack.scheduler.ingestFunction.fn.timeout?.toSeconds() ?? Infinity;
    const visibility = Object.values(queues).find((q) => q.Properties?.RedrivePolicy)?.Properties?.VisibilityTimeout;
    expect(visibility).toBeGreaterThanOrEqual(ingestTimeout * 6);
    const denyInsecure = {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    };
    expect(Object.keys(template.findResources("AWS::SQS::QueuePolicy", { Properties: denyInsecure }))).toHaveLength(2);
  });

  test("log bucket: encrypted, no public access, TLS only, task logs expire retention + 1 days", () => {
    template.resourceCountIs("AWS::S3::Bucket", 1);
    template.hasResourceProperties("AWS::S3::Bucket", {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Prefix: DEFAULT_LOG_KEY_PREFIX, ExpirationInDays: 31, Status: "Enabled" }),
        ]),
      },
    });
    template.hasResourceProperties("AWS::S3::BucketPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
    const { template: week } = synthSous({ logRetentionDays: 7, workers: false });
    week.hasResourceProperties("AWS::S3::Bucket", {
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ ExpirationInDays: 8 })]) },
    });
  });
});

describe("functions", () => {
  const functions = () => resourcesOfType(template, "AWS::Lambda::Function");
  const environment = (id: "roundFunction" | "ingestFunction" | "apiFunction") => {
    const logicalId = base.stack.getLogicalId(base.stack.scheduler[id].fn.node.defaultChild as never);
    return (functions()[logicalId]?.Properties?.Environment as { Variables: Record<string, unknown> }).Variables;
  };

  test("three functions, each Node 22 on ARM with active tracing and its own log group", () => {
    const all = Object.values(functions());
    expect(all).toHaveLength(3);
    for (const fn of all) {
      expect(fn.Properties).toMatchObject({
        Runtime: "nodejs22.x",
        Architectures: ["arm64"],
        Handler: "index.handler",
        TracingConfig: { Mode: "Active" },
        LoggingConfig: { LogGroup: { Ref: expect.any(String) as unknown } },
      });
      // No --enable-source-maps: it reads the map and scans the bundle at every cold start;
      // functions/stack-traces.ts maps traces on first use instead.
      expect((fn.Properties?.Environment as { Variables: Record<string, string> }).Variables.NODE_OPTIONS).toBe(
        undefined,
      );
    }
  });

  test("the round function: reserved concurrency 1, every minute, no async retries", () => {
    const round = base.stack.scheduler.roundFunction.fn;
    template.hasResourceProperties("AWS::Lambda::Function", {
      FunctionName: Match.absent(),
      ReservedConcurrentExecutions: 1,
      Environment: { Variables: Match.objectLike({ TABLE_NAME: Match.anyValue(), INSTANCE_NODE_NAME: "instance" }) },
    });
    expect(Object.keys(environment("roundFunction")).sort()).toEqual(
      [
        "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED",
        "INSTANCE_NODE_NAME",
        "LOG_BUCKET",
        "NODES_RETRY_MS",
        "NODES_UPDATE_MS",
        "SOUS_DEPLOYMENT",
        "STATUS_QUEUE_URL",
        "TABLE_NAME",
      ].sort(),
    );
    template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(1 minute)",
      Targets: [Match.objectLike({ Arn: JSON.parse(resolve(round.functionArn)) as unknown })],
    });
    template.hasResourceProperties("AWS::Lambda::EventInvokeConfig", { MaximumRetryAttempts: 0 });
    const others = Object.values(functions()).filter((fn) => fn.Properties?.ReservedConcurrentExecutions !== undefined);
    expect(others).toHaveLength(1);
  });

  test("status ingestion: batches from the status queue with partial batch failures", () => {
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: JSON.parse(resolve(base.stack.scheduler.statusQueue.queueArn)) as unknown,
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 1,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
    expect(Object.keys(environment("ingestFunction"))).toEqual(
      expect.arrayContaining(["TABLE_NAME", "ROUND_FUNCTION_NAME"]),
    );
    const { template: t } = synthSous({ statusBatchSize: 10, statusBatchWindow: Duration.seconds(5), workers: false });
    t.hasResourceProperties("AWS::Lambda::EventSourceMapping", { BatchSize: 10, MaximumBatchingWindowInSeconds: 5 });
  });

  test("the API function gets the table, queue prefix, status queue, round function and bucket", () => {
    const variables = environment("apiFunction");
    expect(Object.keys(variables)).toEqual(
      expect.arrayContaining([
        "TABLE_NAME",
        "WORKER_QUEUE_PREFIX",
        "STATUS_QUEUE_URL",
        "ROUND_FUNCTION_NAME",
        "LOG_BUCKET",
      ]),
    );
    expect(variables.WORKER_QUEUE_PREFIX).toBe(base.stack.scheduler.queuePrefix);
  });
});

describe("API", () => {
  const methods = (t: Template) => Object.values(resourcesOfType(t, "AWS::ApiGateway::Method"));

  test("root ANY and {proxy+} ANY, both Lambda proxy integrations, IAM on every method", () => {
    const all = methods(template);
    expect(all).toHaveLength(2);
    for (const method of all) {
      expect(method.Properties).toMatchObject({
        HttpMethod: "ANY",
        AuthorizationType: "AWS_IAM",
        Integration: { Type: "AWS_PROXY" },
        RequestValidatorId: expect.anything() as unknown,
      });
    }
    template.hasResourceProperties("AWS::ApiGateway::Resource", { PathPart: "{proxy+}" });
  });

  test("the stage has access logs, tracing, execution logs and throttling", () => {
    template.hasResourceProperties("AWS::ApiGateway::Stage", {
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp("requestId") },
      TracingEnabled: true,
      MethodSettings: [
        Match.objectLike({
          HttpMethod: "*",
          ResourcePath: "/*",
          LoggingLevel: "ERROR",
          ThrottlingRateLimit: 50,
          ThrottlingBurstLimit: 100,
        }),
      ],
    });
    template.hasResourceProperties("AWS::ApiGateway::RequestValidator", {
      ValidateRequestParameters: true,
      ValidateRequestBody: true,
    });
  });

  test("a Cognito user pool authorizer instead, on every method", () => {
    const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
    const pool = new cognito.UserPool(new Stack(app, "Identity"), "Pool");
    const stack = new SousStack(app, "Sous", {
      scheduler: { workers: false, apiAuthorization: { type: "cognito", userPools: [pool] } },
    });
    const all = methods(Template.fromStack(stack));
    expect(all).toHaveLength(2);
    for (const method of all) {
      expect(method.Properties).toMatchObject({
        AuthorizationType: "COGNITO_USER_POOLS",
        AuthorizerId: expect.anything() as unknown,
      });
    }
  });

  test("API keys instead: every method requires the key, with a usage plan", () => {
    const { template: t } = synthSous({ workers: false, apiAuthorization: { type: "apiKey" } });
    for (const method of methods(t)) expect(method.Properties).toMatchObject({ ApiKeyRequired: true });
    t.resourceCountIs("AWS::ApiGateway::UsagePlan", 1);
    t.resourceCountIs("AWS::ApiGateway::ApiKey", 1);
  });
});

describe("IAM", () => {
  const prefixPattern = (prefix: string) =>
    `{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":sqs:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":${prefix}-w-*"]]}`;

  test("the queue-name pattern matches lib/dispatch's worker queue names", () => {
    const prefix = base.stack.scheduler.queuePrefix;
    expect(prefix.length).toBeLessThanOrEqual(40);
    expect(workerQueueName(prefix, "host-1.example.com")).toMatch(new RegExp(`^${prefix}-w-`));
  });

  test("no wildcard actions; a wildcard resource only for X-Ray and the ECR login token", () => {
    // These three actions have no resource-level permissions in IAM.
    const resourceless = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "ecr:GetAuthorizationToken"];
    const statements = iamStatements(template);
    expect(statements.length).toBeGreaterThan(10);
    for (const { policy, statement } of statements) {
      expect(statement.Effect).toBe("Allow");
      for (const action of asList(statement.Action)) {
        expect(`${policy}: ${action}`).not.toContain("*");
        if (asList(statement.Resource).includes("*")) expect(resourceless).toContain(action);
      }
    }
  });

  test("per-worker queue actions are allowed only on <prefix>-w-*", () => {
    const pattern = prefixPattern(base.stack.scheduler.queuePrefix);
    const queueOnly = new Set(["sqs:CreateQueue", "sqs:DeleteQueue"]);
    const seen = new Set<string>();
    for (const { statement } of iamStatements(template)) {
      const actions = asList(statement.Action);
      const resources = asList(statement.Resource).map((r) => JSON.stringify(r));
      if (resources.includes(pattern)) {
        expect(resources).toEqual([pattern]);
        for (const action of actions) seen.add(action);
      }
      if (actions.some((a) => queueOnly.has(a))) expect(resources).toEqual([pattern]);
      // Every other SQS permission names one queue that the stack owns.
      if (actions.some((a) => a.startsWith("sqs:")) && !resources.includes(pattern)) {
        expect(resources).toEqual([expect.stringMatching(/Fn::GetAtt.*Status(Queue|DeadLetters).*Arn/) as unknown]);
      }
    }
    expect([...seen].sort()).toEqual(
      [
        "sqs:ChangeMessageVisibility",
        "sqs:CreateQueue",
        "sqs:DeleteMessage",
        "sqs:DeleteQueue",
        "sqs:GetQueueAttributes",
        "sqs:ReceiveMessage",
        "sqs:SendMessage",
        "sqs:SetQueueAttributes",
      ].sort(),
    );
  });

  test("each function's role: its own log group, the table's item actions, and only what it uses", () => {
    const scheduler = base.stack.scheduler;
    const statementsOf = (role: iam.Role) => {
      const policyId = base.stack.getLogicalId(role.node.findChild("DefaultPolicy").node.defaultChild as never);
      return iamStatements(template)
        .filter((s) => s.policy === policyId)
        .map((s) => s.statement);
    };
    const actionsOf = (role: iam.Role) => new Set(statementsOf(role).flatMap((s) => asList(s.Action)));
    for (const fn of [scheduler.roundFunction, scheduler.ingestFunction, scheduler.apiFunction]) {
      const actions = actionsOf(fn.role);
      for (const action of TABLE_DATA_ACTIONS) expect(actions).toContain(action);
      expect(actions).not.toContain("dynamodb:Scan");
      expect(statementsOf(fn.role)).toContainEqual(
        expect.objectContaining({
          Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
          Resource: JSON.parse(resolve(fn.logGroup.logGroupArn)) as unknown,
        }),
      );
      const roleId = base.stack.getLogicalId(fn.role.node.defaultChild as never);
      expect(resourcesOfType(template, "AWS::IAM::Role")[roleId]?.Properties?.ManagedPolicyArns).toBeUndefined();
    }
    expect(actionsOf(scheduler.roundFunction.role)).not.toContain("lambda:InvokeFunction");
    expect(actionsOf(scheduler.ingestFunction.role)).toContain("lambda:InvokeFunction");
    expect(actionsOf(scheduler.apiFunction.role)).toContain("s3:GetObject");
    // The round reads one object of the bucket, its task-state checkpoint (least-privilege.test.ts).
    const roundReads = statementsOf(scheduler.roundFunction.role).filter((s) =>
      asList(s.Action).includes("s3:GetObject"),
    );
    expect(roundReads.map((s) => s.Sid)).toEqual(["TaskStateCheckpoint"]);
  });

  test("the worker policy: the API's worker routes, its queue, task ends, log uploads, log index", () => {
    const policyId = base.stack.getLogicalId(base.stack.scheduler.workerPolicy.node.defaultChild as never);
    const statements = iamStatements(template)
      .filter((s) => s.policy === policyId)
      .map((s) => s.statement);
    expect(statements.map((s) => s.Sid)).toEqual([
      "RegisterAndHeartbeat",
      "WorkerQueues",
      "TaskEnds",
      "LogSegments",
      "LogIndex",
    ]);
    const routes = asList(statements[0]!.Resource).map((r) => JSON.stringify(r));
    expect(routes).toHaveLength(2);
    expect(routes[0]).toMatch(/\/POST\/workers"\]\]\}$/);
    expect(routes[1]).toMatch(/\/POST\/workers\/\*\/heartbeat"\]\]\}$/);
    expect(JSON.stringify(statements[3]!.Resource)).toContain(`/${DEFAULT_LOG_KEY_PREFIX}\${aws:userid}/*`);
    expect(statements[3]!.Action).toBe("s3:PutObject");
    expect(statements[4]!.Action).toBe("dynamodb:BatchWriteItem");
  });

  test("an optional role for self-managed hosts carries the worker policy", () => {
    const { stack, template: t } = synthSous({
      workers: false,
      workerHostPrincipal: new iam.ServicePrincipal("ec2.amazonaws.com"),
    });
    t.hasResourceProperties("AWS::IAM::Role", {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: "ec2.amazonaws.com" } })] },
      ManagedPolicyArns: [{ Ref: stack.getLogicalId(stack.scheduler.workerPolicy.node.defaultChild as never) }],
    });
    t.hasOutput("*", { Value: { "Fn::GetAtt": [Match.stringLikeRegexp("WorkerHostRole"), "Arn"] } });
    t.hasResourceProperties("AWS::IAM::InstanceProfile", {
      Roles: [{ Ref: stack.getLogicalId(stack.scheduler.workerHostRole!.node.defaultChild as never) }],
    });
  });
});

describe("ECS workers", () => {
  test("a Fargate service running the worker with an init process, the worker policy and backlog scaling", () => {
    template.resourceCountIs("AWS::ECS::Cluster", 1);
    template.hasResourceProperties("AWS::ECS::TaskDefinition", {
      RequiresCompatibilities: ["FARGATE"],
      Cpu: "512",
      Memory: "1024",
      ContainerDefinitions: [
        Match.objectLike({
          LinuxParameters: Match.objectLike({ InitProcessEnabled: true }),
          Command: Match.arrayWith(["--api", "--command", "/opt/tasks/run.sh", "--data-dir", "/data"]),
          LogConfiguration: Match.objectLike({ LogDriver: "awslogs" }),
        }),
      ],
    });
    const taskRole = base.stack.scheduler.workers!.taskDefinition.taskRole;
    template.hasResourceProperties("AWS::IAM::Role", {
      ManagedPolicyArns: [
        { Ref: base.stack.getLogicalId(base.stack.scheduler.workerPolicy.node.defaultChild as never) },
      ],
    });
    expect(resolve(taskRole.roleArn)).toContain("TaskRole");
    template.hasResourceProperties("AWS::ECS::Service", {
      LaunchType: "FARGATE",
      DesiredCount: 0,
      NetworkConfiguration: { AwsvpcConfiguration: Match.objectLike({ AssignPublicIp: "ENABLED" }) },
    });
    template.hasResourceProperties("AWS::ApplicationAutoScaling::ScalableTarget", { MinCapacity: 0, MaxCapacity: 4 });
  });

  describe("scaling on the round's backlog, between 0 and the maximum", () => {
    type Step = { MetricIntervalLowerBound?: number; MetricIntervalUpperBound?: number; ScalingAdjustment: number };
    interface Alarm {
      Properties: Record<string, unknown>;
    }
    const policies = (t: typeof template) =>
      Object.values(resourcesOfType(t, "AWS::ApplicationAutoScaling::ScalingPolicy")).map(
        (p) => p.Properties?.StepScalingPolicyConfiguration as { AdjustmentType: string; StepAdjustments: Step[] },
      );
    const alarms = (t: typeof template) =>
      Object.values(resourcesOfType(t, "AWS::CloudWatch::Alarm")).filter((a) => a.Properties?.Metrics) as Alarm[];
    /** The exact capacity the step policies give for a backlog, as CloudWatch would apply them. */
    function capacityFor(t: typeof template, backlog: number): number | undefined {
      const threshold = (op: string) =>
        alarms(t).find((a) => a.Properties.ComparisonOperator === op)?.Properties.Threshold as number;
      const up = threshold("GreaterThanOrEqualToThreshold");
      const down = threshold("LessThanOrEqualToThreshold");
      // The scale-in policy's steps lie below its threshold (upper bound 0), the scale-out one's above.
      const downPolicy = policies(t).find((p) =>
        p.StepAdjustments.every((s) => (s.MetricIntervalUpperBound ?? 1) <= 0),
      );
      const upPolicy = policies(t).find((p) => p !== downPolicy);
      const apply = (policy: ReturnType<typeof policies>[number] | undefined, at: number) =>
        policy?.StepAdjustments.find(
          (s) =>
            backlog - at >= (s.MetricIntervalLowerBound ?? -Infinity) &&
            backlog - at < (s.MetricIntervalUpperBound ?? Infinity),
        )?.ScalingAdjustment;
      if (backlog >= up) return apply(upPolicy, up);
      if (backlog <= down) return apply(downPolicy, down);
      return undefined;
    }

    test("two alarms on pending + running from the round's metrics, for this deployment", () => {
      const found = alarms(template);
      expect(found).toHaveLength(2);
      for (const alarm of found) {
        expect(alarm.Properties).toMatchObject({ EvaluationPeriods: 1 });
        expect(alarm.Properties.Metrics).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ Expression: "pending + running" }),
            ...["RunnablePendingTasks", "RunningTasks"].map((metricName): unknown =>
              expect.objectContaining({
                MetricStat: expect.objectContaining({
                  Metric: {
                    Namespace: "Sous",
                    MetricName: metricName,
                    Dimensions: expect.arrayContaining([
                      { Name: "service", Value: "sous-scheduler-round" },
                      { Name: "Deployment", Value: base.stack.scheduler.queuePrefix },
                    ] as unknown[]) as unknown,
                  },
                  Stat: "Maximum",
                  Period: 60,
                }) as unknown,
              }),
            ),
          ]),
        );
      }
      // The round publishes under the same Deployment dimension.
      template.hasResourceProperties("AWS::Lambda::Function", {
        Description: "Sous scheduling round (schedule and pokes)",
        Environment: { Variables: Match.objectLike({ SOUS_DEPLOYMENT: base.stack.scheduler.queuePrefix }) },
      });
      for (const policy of policies(template)) expect(policy.AdjustmentType).toBe("ExactCapacity");
    });

    test("no backlog: no workers; then one worker per 4 tasks, up to the maximum", () => {
      expect([0, 1, 4, 5, 8, 9, 16, 17, 1000].map((b) => capacityFor(template, b))).toEqual([
        0, 1, 1, 2, 2, 3, 4, 4, 4,
      ]);
    });

    test("minCount, maxCount and tasksPerWorker are props; capacity stays within [min, max]", () => {
      const { template: t } = synthSous({ workers: { minCount: 1, maxCount: 30, tasksPerWorker: 2 } });
      t.hasResourceProperties("AWS::ApplicationAutoScaling::ScalableTarget", { MinCapacity: 1, MaxCapacity: 30 });
      t.hasResourceProperties("AWS::ECS::Service", { DesiredCount: 1 });
      expect([0, 1, 2, 7, 12, 13, 59, 60, 61, 10_000].map((b) => capacityFor(t, b))).toEqual([
        1, 3, 3, 6, 6, 9, 30, 30, 30, 30,
      ]);
      expect(policies(t).flatMap((p) => p.StepAdjustments).length).toBeLessThanOrEqual(11);
    });

    test("bad bounds are refused at synth", () => {
      expect(() => synthSous({ workers: { minCount: 5, maxCount: 2 } })).toThrow(/minCount 5 is above maxCount 2/);
      expect(() => synthSous({ workers: { maxCount: 0 } })).toThrow(/maxCount >= 1/);
      expect(() => synthSous({ workers: { tasksPerWorker: 0 } })).toThrow(/tasksPerWorker/);
    });
  });

  test("the security group admits nothing; the new VPC has no NAT gateway and free gateway endpoints", () => {
    const groups = Object.values(resourcesOfType(template, "AWS::EC2::SecurityGroup"));
    expect(groups).toHaveLength(1);
    expect(groups[0]!.Properties?.SecurityGroupIngress).toBeUndefined();
    template.resourceCountIs("AWS::EC2::NatGateway", 0);
    template.resourceCountIs("AWS::EC2::VPCEndpoint", 2);
    template.resourceCountIs("AWS::EC2::FlowLog", 1);
  });

  test("sizes, counts, image and command are props; an image URI avoids the Docker build", () => {
    const { template: t } = synthSous({
      workers: {
        image: ecs.ContainerImage.fromRegistry("public.ecr.aws/example/sous-worker:1"),
        command: "/opt/my/task",
        resources: { cpu: 4 },
        cpu: 2048,
        memoryLimitMiB: 4096,
        desiredCount: 2,
        minCount: 2,
        maxCount: 10,
        cpuArchitecture: "arm64",
      },
    });
    t.hasResourceProperties("AWS::ECS::TaskDefinition", {
      Cpu: "2048",
      Memory: "4096",
      RuntimePlatform: { CpuArchitecture: "ARM64", OperatingSystemFamily: "LINUX" },
      ContainerDefinitions: [
        Match.objectLike({
          Image: "public.ecr.aws/example/sous-worker:1",
          Command: Match.arrayWith(["/opt/my/task", "--resources", "cpu=4"]),
        }),
      ],
    });
    t.hasResourceProperties("AWS::ECS::Service", { DesiredCount: 2 });
    t.hasResourceProperties("AWS::ApplicationAutoScaling::ScalableTarget", { MinCapacity: 2, MaxCapacity: 10 });
  });

  test("EC2 capacity: an Auto Scaling group with encrypted volumes and IMDSv2, bridge networking", () => {
    const { template: t } = synthSous({
      workers: {
        ec2Capacity: { instanceType: new ec2.InstanceType("m7g.large"), maxCapacity: 3 },
        cpuArchitecture: "arm64",
      },
    });
    t.hasResourceProperties("AWS::ECS::TaskDefinition", { NetworkMode: "bridge", RequiresCompatibilities: ["EC2"] });
    t.hasResourceProperties("AWS::ECS::Service", { CapacityProviderStrategy: [Match.objectLike({ Weight: 1 })] });
    t.hasResourceProperties("AWS::AutoScaling::AutoScalingGroup", { MaxSize: "3" });
    t.hasResourceProperties("AWS::EC2::LaunchTemplate", {
      LaunchTemplateData: Match.objectLike({
        MetadataOptions: Match.objectLike({ HttpTokens: "required" }),
        BlockDeviceMappings: [Match.objectLike({ Ebs: Match.objectLike({ Encrypted: true }) })],
      }),
    });
  });

  test("workers: false deploys no VPC and no ECS", () => {
    const { template: t } = synthSous({ workers: false });
    t.resourceCountIs("AWS::EC2::VPC", 0);
    t.resourceCountIs("AWS::ECS::Cluster", 0);
    t.resourceCountIs("AWS::IAM::ManagedPolicy", 1);
  });
});

describe("monitoring and outputs", () => {
  test("metric filters on the round's log events, and the six alarms", () => {
    const roundLogs = JSON.parse(resolve(base.stack.scheduler.roundFunction.logGroup.logGroupName)) as unknown;
    template.hasResourceProperties("AWS::Logs::MetricFilter", {
      LogGroupName: roundLogs,
      FilterPattern: '{ $.event = "lease-lost" }',
    });
    template.hasResourceProperties("AWS::Logs::MetricFilter", {
      LogGroupName: roundLogs,
      FilterPattern: '{ ($.event = "round") && ($.lostWorkers[0] = "*") }',
    });
    // Beside the two backlog scaling alarms (on metric math, without a MetricName).
    const alarms = Object.values(resourcesOfType(template, "AWS::CloudWatch::Alarm")).filter(
      (a) => a.Properties?.MetricName,
    );
    expect(alarms.map((a) => a.Properties?.MetricName).sort()).toEqual(
      [
        "5XXError",
        "ApproximateNumberOfMessagesVisible",
        "Errors",
        "Errors",
        "LeaseLost",
        "RoundsWithLostWorkers",
      ].sort(),
    );
    template.resourceCountIs("AWS::CloudWatch::Dashboard", 1);
  });

  test("outputs: API URL, table, status queue, bucket, worker policy and the worker command line", () => {
    const outputs = Object.entries(template.findOutputs("*"));
    const output = (prefix: string) => resolve(outputs.find(([id]) => id.startsWith(`Scheduler${prefix}`))?.[1].Value);
    const ref = (construct: { node: { defaultChild?: unknown } }) =>
      JSON.stringify({ Ref: base.stack.getLogicalId(construct.node.defaultChild as never) });
    const scheduler = base.stack.scheduler;
    expect(output("ApiUrl")).toContain(".execute-api.");
    expect(output("TableName")).toBe(ref(scheduler.table));
    expect(output("StatusQueueUrl")).toBe(ref(scheduler.statusQueue));
    expect(output("LogBucketName")).toBe(ref(scheduler.logBucket));
    expect(output("WorkerPolicyArn")).toBe(ref(scheduler.workerPolicy));
    expect(output("WorkerQueuePrefix")).toBe(JSON.stringify(scheduler.queuePrefix));
    expect(output("WorkerCommand")).toContain("sous worker --api https://");
    expect(outputs).toHaveLength(7);
  });
});
