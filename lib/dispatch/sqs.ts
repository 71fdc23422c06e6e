// SQS plumbing: per-worker queues (created on registration, named under a prefix so IAM can
// scope them) and batched sends with retries of failed entries. Every send is a
// SendMessageBatch of up to 10 messages, since SQS bills per request.
import { createHash } from "node:crypto";
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  SetQueueAttributesCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { REAL_RETRY_ENV, retryRemaining, type RetryEnv, type RetryPolicy } from "../retry";

const BATCH_LIMIT = 10;
/** SendMessageBatch caps the whole request at 256 KiB. */
const BATCH_BYTES = 256 * 1024;

/**
 * Queue names allow letters, digits, '-' and '_' only (80 characters at most). The readable
 * part is cleaned and cut; a hash of the exact id keeps ids like `a.b` and `a_b` apart.
 */
export function workerQueueName(prefix: string, workerId: string): string {
  const hash = createHash("sha256").update(workerId).digest("hex").slice(0, 10);
  const head = `${prefix}-w-`;
  const safe = workerId.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, Math.max(0, 80 - head.length - hash.length - 1));
  return `${head}${safe}-${hash}`;
}

export async function createWorkerQueue(sqs: SQSClient, prefix: string, workerId: string): Promise<string> {
  const { QueueUrl } = await sqs.send(
    new CreateQueueCommand({
      QueueName: workerQueueName(prefix, workerId),
      Attributes: { MessageRetentionPeriod: "86400", VisibilityTimeout: "60", SqsManagedSseEnabled: "true" },
    }),
  );
  if (!QueueUrl) throw new Error(`SQS returned no URL for the queue of worker ${workerId}`);
  return QueueUrl;
}

/**
 * A worker queue's resource policy: TLS only for everyone, and, with the registering caller's
 * aws:userid, receive/delete/change-visibility for that caller only. Explicit denies win over
 * any identity policy, so a worker role that may use every `<prefix>-w-*` queue (IAM cannot say
 * "your own") still reads only its own. Senders (the round, the API) are not restricted by it.
 */
export function workerQueuePolicy(queueArn: string, ownerUserId: string | undefined): string {
  const statements: Record<string, unknown>[] = [
    {
      Sid: "TlsOnly",
      Effect: "Deny",
      Principal: "*",
      Action: "sqs:*",
      Resource: queueArn,
      Condition: { Bool: { "aws:SecureTransport": "false" } },
    },
  ];
  if (ownerUserId !== undefined) {
    statements.push({
      Sid: "OwnerOnlyReceives",
      Effect: "Deny",
      Principal: "*",
      Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"],
      Resource: queueArn,
      Condition: { StringNotEquals: { "aws:userid": ownerUserId } },
    });
  }
  return JSON.stringify({ Version: "2012-10-17", Statement: statements });
}

/** Sets the worker queue's policy (`workerQueuePolicy`) after each registration: the owner changes with it. */
export async function restrictWorkerQueue(
  sqs: SQSClient,
  queueUrl: string,
  ownerUserId: string | undefined,
): Promise<void> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }),
  );
  const queueArn = Attributes?.QueueArn;
  if (!queueArn) throw new Error(`SQS returned no ARN for ${queueUrl}`);
  await sqs.send(
    new SetQueueAttributesCommand({
      QueueUrl: queueUrl,
      Attributes: { Policy: workerQueuePolicy(queueArn, ownerUserId) },
    }),
  );
}

export async function deleteWorkerQueue(sqs: SQSClient, queueUrl: string): Promise<void> {
  await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
}

export interface SendResult {
  requests: number;
  /** Bodies that could not be sent after retries. */
  failed: { body: string; error: string }[];
}

function batches(bodies: readonly string[]): string[][] {
  const out: string[][] = [];
  let batch: string[] = [];
  let bytes = 0;
  for (const body of bodies) {
    const size = Buffer.byteLength(body);
    if (batch.length === BATCH_LIMIT || (batch.length > 0 && bytes + size > BATCH_BYTES)) {
      out.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(body);
    bytes += size;
  }
  if (batch.length > 0) out.push(batch);
  return out;
}

/** Entries that fail on the server side are sent again, up to 5 calls per batch. */
const SEND_RETRY: RetryPolicy = { attempts: 5, baseMs: 50, capMs: 1000 };

/** Sends bodies to one queue in batches of 10; entries that fail on the server side are retried. */
export async function sendBatched(
  sqs: SQSClient,
  queueUrl: string,
  bodies: readonly string[],
  env: RetryEnv = REAL_RETRY_ENV,
): Promise<SendResult> {
  const result: SendResult = { requests: 0, failed: [] };
  for (const batch of batches(bodies)) {
    const lastError = new Map<string, string>();
    const left = await retryRemaining(
      batch.map((body, i) => ({ Id: String(i), MessageBody: body })),
      async (pending) => {
        result.requests++;
        const response = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: [...pending] }));
        const retry: (typeof pending)[number][] = [];
        for (const failure of response.Failed ?? []) {
          const entry = pending.find((e) => e.Id === failure.Id);
          if (!entry) continue;
          const error = failure.Message ?? failure.Code ?? "unknown error";
          if (failure.SenderFault) {
            result.failed.push({ body: entry.MessageBody, error });
          } else {
            lastError.set(entry.Id, error);
            retry.push(entry);
          }
        }
        return retry;
      },
      SEND_RETRY,
      env,
    );
    for (const entry of left) result.failed.push({ body: entry.MessageBody, error: lastError.get(entry.Id) ?? "" });
  }
  return result;
}
