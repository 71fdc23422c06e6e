// Worker registrations: one item per worker id (Bistro's shard), holding the live instance,
// its queue, declared resources and last heartbeat. A new instance may take over an id only
// from an instance that is gone (declared lost, or silent past the lose deadline), so two
// live processes never share one id.
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { GetCommand, PutCommand, UpdateCommand, paginateQuery } from "@aws-sdk/lib-dynamodb";
import type { RunningList, WorkerRecord } from "../model/worker";
import type { StoreContext } from "./context";
import { ConflictError, NotFoundError } from "./errors";
import { WORKER_PK, workerKey } from "./keys";

export type { WorkerRecord };

/** The refusal of a registration while a live instance holds the id. */
export function workerIdHeld(id: string): ConflictError {
  return new ConflictError(
    `Worker id ${id} is held by a live worker instance; stop it, wait for it to be declared lost, ` +
      `or start this one with another --id.`,
  );
}

/** The refusal of a heartbeat from an instance that is not (or no longer) registered. */
export function workerNotRegistered(id: string, instanceId: string): NotFoundError {
  return new NotFoundError(`Worker ${id} instance ${instanceId} is not registered (replaced or declared lost).`);
}

function toRecord(item: Record<string, unknown>): WorkerRecord {
  const { pk: _pk, sk: _sk, ...record } = item;
  return record as unknown as WorkerRecord;
}

/**
 * Registers an instance. Replaces a previous instance of the same id only if that one was
 * declared lost or has not sent a heartbeat since `staleBeforeMs`; otherwise ConflictError.
 * Returns the replaced record, if any (its running tasks must be treated as lost).
 */
export async function registerWorker(
  ctx: StoreContext,
  record: WorkerRecord,
  staleBeforeMs: number,
): Promise<WorkerRecord | undefined> {
  try {
    const result = await ctx.doc.send(
      new PutCommand({
        TableName: ctx.tableName,
        Item: { ...workerKey(record.id), ...record },
        // The same instance may register again (a retry whose answer was lost) only as the same caller.
        ConditionExpression:
          "attribute_not_exists(pk) OR attribute_exists(#lost) OR #heartbeat < :stale OR (#instance = :instance AND " +
          (record.principal === undefined ? "attribute_not_exists(#principal))" : "#principal = :principal)"),
        ExpressionAttributeNames: {
          "#instance": "instanceId",
          "#lost": "lostAtMs",
          "#heartbeat": "heartbeatAtMs",
          "#principal": "principal",
        },
        ExpressionAttributeValues: {
          ":instance": record.instanceId,
          ":stale": staleBeforeMs,
          ...(record.principal === undefined ? {} : { ":principal": record.principal }),
        },
        ReturnValues: "ALL_OLD",
      }),
    );
    const previous = result.Attributes ? toRecord(result.Attributes) : undefined;
    return previous && previous.instanceId !== record.instanceId ? previous : undefined;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) {
      throw workerIdHeld(record.id);
    }
    throw error;
  }
}

/**
 * Records a heartbeat of the current instance, if `secretHash` is its registration's, with the
 * attempts it listed (none listed: any earlier list is removed); NotFoundError when this instance is
 * not (or no longer) registered with that secret.
 */
export async function recordHeartbeat(
  ctx: StoreContext,
  id: string,
  instanceId: string,
  secretHash: string,
  nowMs: number,
  running?: RunningList,
): Promise<WorkerRecord> {
  try {
    const result = await ctx.doc.send(
      new UpdateCommand({
        TableName: ctx.tableName,
        Key: workerKey(id),
        UpdateExpression: running
          ? "SET #heartbeat = :now, #attempts = :attempts, #listed = :listed"
          : "SET #heartbeat = :now REMOVE #attempts, #listed",
        ConditionExpression: "#instance = :instance AND #secret = :secret AND attribute_not_exists(#lost)",
        ExpressionAttributeNames: {
          "#heartbeat": "heartbeatAtMs",
          "#instance": "instanceId",
          "#lost": "lostAtMs",
          "#secret": "secretHash",
          "#attempts": "runningAttempts",
          "#listed": "runningListedAtMs",
        },
        ExpressionAttributeValues: {
          ":now": nowMs,
          ":instance": instanceId,
          ":secret": secretHash,
          ...(running ? { ":attempts": [...running.attempts], ":listed": running.listedAtMs } : {}),
        },
        ReturnValues: "ALL_NEW",
      }),
    );
    return toRecord(result.Attributes ?? {});
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) {
      throw workerNotRegistered(id, instanceId);
    }
    throw error;
  }
}

/** Marks an instance lost (once); false if it was already replaced or marked. */
export async function markWorkerLost(
  ctx: StoreContext,
  id: string,
  instanceId: string,
  nowMs: number,
): Promise<boolean> {
  try {
    await ctx.doc.send(
      new UpdateCommand({
        TableName: ctx.tableName,
        Key: workerKey(id),
        UpdateExpression: "SET #lost = :now",
        ConditionExpression: "#instance = :instance AND attribute_not_exists(#lost)",
        ExpressionAttributeNames: { "#lost": "lostAtMs", "#instance": "instanceId" },
        ExpressionAttributeValues: { ":now": nowMs, ":instance": instanceId },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

export async function getWorker(ctx: StoreContext, id: string): Promise<WorkerRecord | undefined> {
  const result = await ctx.doc.send(
    new GetCommand({ TableName: ctx.tableName, Key: workerKey(id), ConsistentRead: true }),
  );
  return result.Item ? toRecord(result.Item) : undefined;
}

export async function listWorkers(ctx: StoreContext): Promise<WorkerRecord[]> {
  const workers: WorkerRecord[] = [];
  const pages = paginateQuery(
    { client: ctx.doc },
    {
      TableName: ctx.tableName,
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": WORKER_PK },
      ConsistentRead: true,
    },
  );
  for await (const page of pages) for (const item of page.Items ?? []) workers.push(toRecord(item));
  return workers;
}
