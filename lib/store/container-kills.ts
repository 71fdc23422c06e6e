// Kill requests for container jobs' tasks. A worker-run task is killed by an order on its worker's
// queue; a container task has no queue, and only the round may call ECS, so the API records the
// request here (one small item per attempt) and pokes the round, which stops the task with
// StopTask and deletes the request (lib/round/container-upkeep.ts).
import { PutCommand, paginateQuery } from "@aws-sdk/lib-dynamodb";
import { batchWrite } from "./batch";
import { bumpChangeSequence } from "./change-sequence";
import type { StoreContext } from "./context";
import { CONTAINER_KILL_PK, containerKillKey } from "./keys";

export interface ContainerKillRequest {
  job: string;
  node: string;
  attempt: string;
  reason: string;
  requestedAtMs: number;
}

/** Records the request and bumps the change sequence, so the next round is not skipped as idle. */
export async function requestContainerKill(ctx: StoreContext, request: ContainerKillRequest): Promise<void> {
  await ctx.doc.send(
    new PutCommand({ TableName: ctx.tableName, Item: { ...containerKillKey(request.attempt), ...request } }),
  );
  await bumpChangeSequence(ctx);
}

/** Every pending request (few: each lives from a kill until the next round). */
export async function listContainerKills(ctx: StoreContext): Promise<ContainerKillRequest[]> {
  const requests: ContainerKillRequest[] = [];
  for await (const page of paginateQuery(
    { client: ctx.doc },
    {
      TableName: ctx.tableName,
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": CONTAINER_KILL_PK },
      ConsistentRead: true,
    },
  )) {
    for (const item of page.Items ?? []) {
      requests.push({
        job: String(item.job),
        node: String(item.node),
        attempt: String(item.attempt),
        reason: String(item.reason),
        requestedAtMs: Number(item.requestedAtMs),
      });
    }
  }
  return requests;
}

export async function deleteContainerKills(ctx: StoreContext, attempts: readonly string[]): Promise<void> {
  await batchWrite(
    ctx,
    attempts.map((attempt) => ({ DeleteRequest: { Key: containerKillKey(attempt) } })),
  );
}
