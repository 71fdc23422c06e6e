// The DynamoDB adapter's tasks port lets no SDK exception out: a task write the commit protocol
// cannot settle becomes a ConflictError (nothing of it applied), a lost lease stays LeaseLostError.
import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { dynamoStorePorts } from "../../lib/store/dynamo-store";
import { ConflictError, LeaseLostError } from "../../lib/store/errors";
import type { StartWrite } from "../../lib/store/tasks";

const lease = { owner: "round", epoch: 1, round: 1, expiresAtMs: 2_000 };
const start: StartWrite = {
  job: "j",
  node: "n",
  attempt: "a1",
  tokenHash: "h",
  worker: "w",
  workerInstance: "wi",
  charges: [],
  nextBackoff: { seconds: 15, noMoreBackoffs: false },
  expectedVersion: null,
};

/** A table that cancels every transaction, each item failing with `code`. */
function cancellingTable(code: string) {
  const doc = {
    send: (command: { input: { TransactItems?: unknown[] } }) => {
      const items = command.input.TransactItems ?? [];
      return Promise.reject(
        new TransactionCanceledException({
          message: "Transaction cancelled",
          $metadata: {},
          CancellationReasons: items.map(() => ({ Code: code })),
        }),
      );
    },
  } as unknown as DynamoDBDocumentClient;
  return dynamoStorePorts({ doc, tableName: `fake-${code}` });
}

describe("DynamoDB tasks port errors", () => {
  it("maps a cancellation the protocol does not settle to ConflictError, keeping the cause", async () => {
    const ports = cancellingTable("ItemCollectionSizeLimitExceeded");
    const failure = ports.tasks.commitStarts(lease, [start], 1_000);
    await expect(failure).rejects.toBeInstanceOf(ConflictError);
    await expect(failure).rejects.toHaveProperty("cause.name", "TransactionCanceledException");
    await expect(
      ports.tasks.applyFinishes([
        {
          job: "j",
          node: "n",
          attempt: "a1",
          status: { bits: 4, timeSec: 1, backoffSec: 0 },
          state: "done",
          charges: [],
        },
      ]),
    ).rejects.toBeInstanceOf(ConflictError);
  });

  it("keeps a failed lease fence a LeaseLostError", async () => {
    // Every condition failed, the lease fence's among them.
    const ports = cancellingTable("ConditionalCheckFailed");
    await expect(ports.tasks.commitStarts(lease, [start], 1_000)).rejects.toBeInstanceOf(LeaseLostError);
  });
});
