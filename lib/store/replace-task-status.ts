// Replacing the stored status of a task that is not running (a forgive, or a real status that
// arrives after a worker-lost placeholder). One transaction: the conditional task update and
// the change-sequence bump (ADR 0003), so a round can never miss the replacement.
import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import type { TaskStatus } from "../model/status";
import { changeSequenceBump } from "./change-sequence";
import type { StoreContext } from "./context";
import { taskKey } from "./keys";
import type { TaskItem, TaskState } from "./tasks/types";

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
  for (let attempt = 0; ; attempt++) {
    try {
      await ctx.doc.send(new TransactWriteCommand({ TransactItems: [{ Update: update }, changeSequenceBump(ctx)] }));
      return true;
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const [task, sequence] = error.CancellationReasons ?? [];
      if (task?.Code === "ConditionalCheckFailed") return false;
      // A conflict with another transaction on the same items (a finish, another bump): try again.
      const conflict = [task?.Code, sequence?.Code].includes("TransactionConflict");
      if (!conflict || attempt >= 8) throw error;
      await new Promise((r) => setTimeout(r, Math.random() * 20 * 2 ** attempt));
    }
  }
}
