// The change sequence (ADR 0003): one counter item that every write a round plans against
// bumps, inside the same transaction as the write (task starts and finishes, status
// replacements) or right after it (node pushes). A round records the number it read before
// reading anything else; a later round that reads the same number knows no task changed since,
// and can skip reading the tasks at all (lib/round/idle-round.ts).
import { GetCommand, UpdateCommand, type TransactWriteCommandInput } from "@aws-sdk/lib-dynamodb";
import type { StoreContext } from "./context";
import { CHANGE_SEQUENCE_KEY } from "./keys";

type TransactItem = NonNullable<TransactWriteCommandInput["TransactItems"]>[number];

const NAMES = { "#seq": "seq" };
const VALUES = { ":one": 1 };

/** The transaction item that bumps the sequence (no condition: it never cancels a transaction). */
export function changeSequenceBump(ctx: StoreContext): TransactItem {
  return {
    Update: {
      TableName: ctx.tableName,
      Key: CHANGE_SEQUENCE_KEY,
      UpdateExpression: "ADD #seq :one",
      ExpressionAttributeNames: NAMES,
      ExpressionAttributeValues: VALUES,
    },
  };
}

/** Bumps the sequence on its own, for writes that are not transactions of this table's task items. */
export async function bumpChangeSequence(ctx: StoreContext): Promise<void> {
  await ctx.doc.send(
    new UpdateCommand({
      TableName: ctx.tableName,
      Key: CHANGE_SEQUENCE_KEY,
      UpdateExpression: "ADD #seq :one",
      ExpressionAttributeNames: NAMES,
      ExpressionAttributeValues: VALUES,
    }),
  );
}

/** The current sequence (0 before the first change), read strongly consistent. */
export async function readChangeSequence(ctx: StoreContext): Promise<number> {
  const result = await ctx.doc.send(
    new GetCommand({ TableName: ctx.tableName, Key: CHANGE_SEQUENCE_KEY, ConsistentRead: true }),
  );
  return Number(result.Item?.seq ?? 0);
}
