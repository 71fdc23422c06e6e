// What a worker (`sous worker --api URL`, on ECS or any host) may do, as one managed policy: call
// the API's two worker routes, use its own queue under the worker-queue prefix, send task ends to
// the status queue, upload log segments and write their index items. Nothing else: registration
// (which creates the queue) and everything the scheduler does happen behind the API.
import { Stack } from "aws-cdk-lib";
import type * as apigateway from "aws-cdk-lib/aws-apigateway";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";

import { workerQueueArnPattern } from "./names";
import { acknowledge, wildcardResourceFinding } from "./nag";

export interface WorkerPolicyProps {
  api: apigateway.RestApi;
  table: dynamodb.Table;
  statusQueue: sqs.IQueue;
  logBucket: s3.Bucket;
  logKeyPrefix: string;
  queuePrefix: string;
}

export class WorkerPolicy extends Construct {
  readonly policy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: WorkerPolicyProps) {
    super(scope, id);
    const stage = props.api.deploymentStage.stageName;
    const workerQueues = workerQueueArnPattern(Stack.of(this), props.queuePrefix);
    const logObjects = props.logBucket.arnForObjects(`${props.logKeyPrefix}*`);
    const heartbeats = props.api.arnForExecuteApi("POST", "/workers/*/heartbeat", stage);
    this.policy = new iam.ManagedPolicy(this, "Policy", {
      description: "Sous worker: the API's worker routes, its own queue, the status queue, task log uploads",
      statements: [
        new iam.PolicyStatement({
          sid: "RegisterAndHeartbeat",
          actions: ["execute-api:Invoke"],
          resources: [props.api.arnForExecuteApi("POST", "/workers", stage), heartbeats],
        }),
        new iam.PolicyStatement({
          // Every worker queue of this deployment, not only the caller's own: IAM cannot tell them apart.
          sid: "WorkerQueues",
          actions: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"],
          resources: [workerQueues],
        }),
        new iam.PolicyStatement({
          sid: "TaskEnds",
          actions: ["sqs:SendMessage"],
          resources: [props.statusQueue.queueArn],
        }),
        new iam.PolicyStatement({
          sid: "LogSegments",
          actions: ["s3:PutObject"],
          resources: [logObjects],
        }),
        new iam.PolicyStatement({
          sid: "LogIndex",
          actions: ["dynamodb:BatchWriteItem"],
          resources: [props.table.tableArn],
        }),
      ],
    });
    acknowledge(
      this.policy,
      "Per-worker queues are created at run time by registration, so their names are not known at deploy time; " +
        "the `<prefix>-w-` name prefix is the narrowest bound.",
      wildcardResourceFinding(this, workerQueues),
    );
    acknowledge(
      this.policy,
      "Each worker names its own log segments at run time; only PutObject, only under the task-logs prefix.",
      wildcardResourceFinding(this, logObjects),
    );
    acknowledge(
      this.policy,
      "The heartbeat route's one path parameter is the worker id; only POST on that route is allowed.",
      wildcardResourceFinding(this, heartbeats),
    );
  }
}
