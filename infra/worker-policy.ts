// What a worker (`sous worker --api URL`, on ECS or any host) may do, as one managed policy: call
// the API's two worker routes, receive from worker queues (each queue's own policy, set at
// registration, denies all but its registering caller), send task ends to the status queue,
// upload log segments (to its own aws:userid folder) and write log index items (only in the log-index partitions). Nothing
// else: no reads of the table, no lease, config, counter, task or worker items. Registration
// (which creates the queue) and everything the scheduler does happen behind the API.
// docs/security.md lists what each principal can do.
import { Stack } from "aws-cdk-lib";
import type * as apigateway from "aws-cdk-lib/aws-apigateway";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { API_STAGE } from "./api";

import { LOG_JOB_INDEX_PREFIX, LOG_TASK_INDEX_PREFIX, LOG_TIME_INDEX_PREFIX } from "../lib/logs/keys";
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
    // The stage by name, not through its resource: referencing the stage would make every role
    // holding this policy (container jobs' task roles among them) depend on the API deployment,
    // and through it on the round function that launches those containers, a cycle.
    const stage = API_STAGE;
    const workerQueues = workerQueueArnPattern(Stack.of(this), props.queuePrefix);
    // Each identity writes its own folder only (the registration answer names it: logOwner), so no
    // worker can overwrite another's segments.
    const logObjects = props.logBucket.arnForObjects(`${props.logKeyPrefix}\${aws:userid}/*`);
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
          // IAM cannot tell one worker's queue from another's; each queue's policy (set at
          // registration) denies these actions to everyone but the caller that registered it.
          sid: "WorkerQueues",
          actions: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"],
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
          // Only items whose partition key is a log-index one: never the lease, config, counters,
          // tasks or workers, which share the table.
          sid: "LogIndex",
          actions: ["dynamodb:BatchWriteItem"],
          resources: [props.table.tableArn],
          conditions: {
            "ForAllValues:StringLike": {
              "dynamodb:LeadingKeys": [LOG_TASK_INDEX_PREFIX, LOG_JOB_INDEX_PREFIX, LOG_TIME_INDEX_PREFIX].map(
                (prefix) => `${prefix}*`,
              ),
            },
          },
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
      "Each worker names its own log segments at run time; only PutObject, only in its own aws:userid folder of the task-logs prefix.",
      wildcardResourceFinding(this, logObjects),
    );
    acknowledge(
      this.policy,
      "The heartbeat route's one path parameter is the worker id; only POST on that route is allowed.",
      wildcardResourceFinding(this, heartbeats),
    );
  }
}
