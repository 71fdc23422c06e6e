// Replacing the stored status of a task that is not running (a forgive, or a real status that
// arrives after a worker-lost placeholder). One transaction: the conditional task update and
// the change sequence's advance and entry (ADR 0003), so a round can never miss the replacement.
import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import type { TaskStatus } from "../model/status";
import { transactWithSequence } from "./change-sequence";
import type { StoreContext } from "./context";
import { taskKey } from "./keys";
import type { TaskChange, TaskItem, TaskState } from "./tasks/types";

/**
 * Replaces the status of a task that is not running, if the item is still at the version that
 * was read (and, with `lastAttempt`, still holds that attempt's status). False when the task
 * changed meanwhile (started, finished).
 */
export async function replaceIdleTaskStatus(
  ctx: StoreContext,
  item: TaskItem,
  status: TaskStatus,
  state: Exclude<TaskState, "running">,
  lastAttempt?: string,
): Promise<boolean> {
  const update = {
    TableName: ctx.tableName,
    Key: taskKey(item.job, item.node),
    UpdateExpression: "SET #state = :state, #status = :status, #version = #version + :one",
    ConditionExpression:
      "#version = :version AND #state <> :running" + (lastAttempt === undefined ? "" : " AND #last = :attempt"),
    ExpressionAttributeNames: {
      "#state": "state",
      "#status": "status",
      "#version": "version",
      ...(lastAttempt === undefined ? {} : { "#last": "lastAttempt" }),
    },
    ExpressionAttributeValues: {
      ":state": state,
      ":status": status,
      ":one": 1,
      ":version": item.version,
      ":running": "running",
      ...(lastAttempt === undefined ? {} : { ":attempt": lastAttempt }),
    },
  };
  const change: TaskChange = {
    kind: "replace",
    job: item.job,
    node: item.node,
    version: item.version + 1,
    state,
    status,
  };
  try {
    // Conflicts and a sequence moved by another writer are retried inside.
    await transactWithSequence(ctx, [change], Date.now(), [{ Update: update }]);
    return true;
  } catch (error) {
    if (conditionFailed(error)) return false;
    throw error;
  }
}

function cancellationCodes(error: unknown): (string | undefined)[] {
  return error instanceof TransactionCanceledException ? (error.CancellationReasons ?? []).map((r) => r.Code) : [];
}

/** The task item's own condition failed (it changed since it was read). */
const conditionFailed = (error: unknown) => cancellationCodes(error)[0] === "ConditionalCheckFailed";
