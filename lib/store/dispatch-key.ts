// The dispatch key: 256 random bits, created once per deployment, from which attempt tokens are
// derived (lib/dispatch/tokens.ts). Read by the round and the API (kill orders); workers have no
// access to it (infra grants them no reads on the table).
import { randomBytes } from "node:crypto";
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { attemptTokens, type AttemptTokens } from "../dispatch/tokens";
import type { StoreContext } from "./context";
import { DISPATCH_KEY_KEY } from "./keys";

async function readKey(ctx: StoreContext): Promise<Buffer | undefined> {
  const result = await ctx.doc.send(
    new GetCommand({ TableName: ctx.tableName, Key: DISPATCH_KEY_KEY, ConsistentRead: true }),
  );
  const key: unknown = result.Item?.key;
  return typeof key === "string" ? Buffer.from(key, "base64") : undefined;
}

/** The deployment's dispatch key, created on first use (the first writer wins a race). */
export async function readDispatchKey(ctx: StoreContext): Promise<Buffer> {
  const existing = await readKey(ctx);
  if (existing) return existing;
  try {
    await ctx.doc.send(
      new PutCommand({
        TableName: ctx.tableName,
        Item: { ...DISPATCH_KEY_KEY, key: randomBytes(32).toString("base64") },
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
  const created = await readKey(ctx);
  if (!created) throw new Error("The dispatch key could not be read after it was written.");
  return created;
}

/** Attempt tokens of this deployment. */
export async function readAttemptTokens(ctx: StoreContext): Promise<AttemptTokens> {
  return attemptTokens(await readDispatchKey(ctx));
}
