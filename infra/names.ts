// Names that IAM must know before anything runs: per-worker queues are created at run time
// (worker registration) as `<prefix>-w-<worker id>` (lib/dispatch/sqs.ts `workerQueueName`), so
// permissions on them are scoped to that pattern.
import { ArnFormat, Names, type Stack } from "aws-cdk-lib";
import type { Construct } from "constructs";

/** Queue names are at most 80 characters; this leaves at least 37 for the worker id. */
export const MAX_QUEUE_PREFIX_LENGTH = 40;

/** The default prefix: unique per construct path within the account, stable across deploys. */
export function defaultQueuePrefix(scope: Construct): string {
  return Names.uniqueResourceName(scope, { maxLength: MAX_QUEUE_PREFIX_LENGTH, separator: "-" });
}

export function checkQueuePrefix(prefix: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(prefix) || prefix.length > MAX_QUEUE_PREFIX_LENGTH) {
    throw new Error(
      `queuePrefix "${prefix}" must be 1-${MAX_QUEUE_PREFIX_LENGTH} letters, digits, '-' or '_' (SQS queue names).`,
    );
  }
  return prefix;
}

/** `arn:<partition>:sqs:<region>:<account>:<prefix>-w-*`: every per-worker queue, nothing else. */
export function workerQueueArnPattern(stack: Stack, prefix: string): string {
  return stack.formatArn({ service: "sqs", resource: `${prefix}-w-*`, arnFormat: ArnFormat.NO_RESOURCE_NAME });
}
