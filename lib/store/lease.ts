// The scheduler lease: at most one round commits at a time. A round renews the lease it holds
// or takes over an expired one; every takeover increases the fencing epoch, and every commit
// carries a ConditionCheck on the epoch, so a round that lost its lease (paused, slow, or
// presumed dead) commits nothing. Each acquisition also numbers the round (`round`), which
// task items record so an interrupted dispatch can be found and repeated.
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { UpdateCommand, type TransactWriteCommandInput } from "@aws-sdk/lib-dynamodb";
import type { StoreContext } from "./context";
import { LeaseLostError } from "./errors";
import { LEASE_KEY } from "./keys";

export interface Lease {
  owner: string;
  epoch: number;
  /** Monotonic number of this round across all holders. */
  round: number;
  expiresAtMs: number;
  /** The wake-up a round last scheduled (ms since the epoch; lib/round/wake.ts), if any. */
  wakeAtMs?: number;
}

type ConditionCheck = NonNullable<NonNullable<TransactWriteCommandInput["TransactItems"]>[number]["ConditionCheck"]>;

const NAMES = { "#owner": "owner", "#epoch": "epoch", "#expires": "expiresAtMs", "#round": "round" };

function toLease(attributes: Record<string, unknown> | undefined): Lease {
  return {
    owner: String(attributes?.owner),
    epoch: Number(attributes?.epoch),
    round: Number(attributes?.round),
    expiresAtMs: Number(attributes?.expiresAtMs),
    ...(typeof attributes?.wakeAtMs === "number" ? { wakeAtMs: attributes.wakeAtMs } : {}),
  };
}

/**
 * Renews `previous` (same owner and epoch) or takes over a missing or expired lease.
 * Returns null when another owner holds an unexpired lease.
 */
export async function acquireLease(
  ctx: StoreContext,
  owner: string,
  nowMs: number,
  ttlMs: number,
  previous?: Lease,
): Promise<Lease | null> {
  const expiresAtMs = nowMs + ttlMs;
  if (previous) {
    try {
      const renewed = await ctx.doc.send(
        new UpdateCommand({
          TableName: ctx.tableName,
          Key: LEASE_KEY,
          UpdateExpression: "SET #expires = :expires, #round = #round + :one",
          ConditionExpression: "#owner = :owner AND #epoch = :epoch",
          ExpressionAttributeNames: NAMES,
          ExpressionAttributeValues: { ":expires": expiresAtMs, ":one": 1, ":owner": owner, ":epoch": previous.epoch },
          ReturnValues: "ALL_NEW",
        }),
      );
      return toLease(renewed.Attributes);
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // Lost it: fall through and try a takeover like anyone else.
    }
  }
  try {
    const taken = await ctx.doc.send(
      new UpdateCommand({
        TableName: ctx.tableName,
        Key: LEASE_KEY,
        UpdateExpression:
          "SET #owner = :owner, #expires = :expires, #epoch = if_not_exists(#epoch, :zero) + :one, " +
          "#round = if_not_exists(#round, :zero) + :one",
        // A poke on a fresh table creates the item with only the wanted mark: no expiry, no holder.
        ConditionExpression: "attribute_not_exists(pk) OR attribute_not_exists(#expires) OR #expires < :now",
        ExpressionAttributeNames: NAMES,
        ExpressionAttributeValues: { ":owner": owner, ":expires": expiresAtMs, ":zero": 0, ":one": 1, ":now": nowMs },
        ReturnValues: "ALL_NEW",
      }),
    );
    return toLease(taken.Attributes);
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return null;
    throw error;
  }
}

/**
 * Asks for another round: marks the lease dirty. A holder sees the mark when it tries to
 * release and runs again, so a poke that arrives while a round runs is never lost.
 */
export async function markRoundWanted(ctx: StoreContext): Promise<void> {
  await ctx.doc.send(
    new UpdateCommand({
      TableName: ctx.tableName,
      Key: LEASE_KEY,
      UpdateExpression: "SET #dirty = :yes",
      ExpressionAttributeNames: { "#dirty": "dirty" },
      ExpressionAttributeValues: { ":yes": true },
    }),
  );
}

/**
 * Remembers the wake-up a round scheduled, on the lease item the next round reads anyway, so
 * rounds do not schedule it again. Fenced; false when the lease was lost (the wake is harmless).
 */
export function recordWake(ctx: StoreContext, lease: Lease, wakeAtMs: number): Promise<boolean> {
  return updateHeldLease(ctx, lease, {
    set: "#wake = :wake",
    names: { "#wake": "wakeAtMs" },
    values: { ":wake": wakeAtMs },
  });
}

/**
 * Clears the dirty mark (the holder is about to read state that includes every earlier poke);
 * LeaseLostError when `lease` no longer holds.
 */
export async function clearRoundWanted(ctx: StoreContext, lease: Lease): Promise<void> {
  const cleared = await updateHeldLease(ctx, lease, {
    set: "#dirty = :no",
    names: { "#dirty": "dirty" },
    values: { ":no": false },
  });
  if (!cleared) throw new LeaseLostError("The scheduler lease was taken over; the wanted mark was not cleared.");
}

/** Ends the lease (expiry 0) if `lease` still holds it and `extra` holds too; false otherwise. */
function expireLease(ctx: StoreContext, lease: Lease, extra?: string): Promise<boolean> {
  return updateHeldLease(ctx, lease, {
    set: "#expires = :zero",
    names: { "#expires": "expiresAtMs", ...(extra ? { "#dirty": "dirty" } : {}) },
    values: { ":zero": 0, ...(extra ? { ":no": false } : {}) },
    ...(extra ? { extra } : {}),
  });
}

/** One SET on the lease item if `lease` still holds it (and `extra` holds); false otherwise. */
async function updateHeldLease(
  ctx: StoreContext,
  lease: Lease,
  update: { set: string; names: Record<string, string>; values: Record<string, unknown>; extra?: string },
): Promise<boolean> {
  try {
    await ctx.doc.send(
      new UpdateCommand({
        TableName: ctx.tableName,
        Key: LEASE_KEY,
        UpdateExpression: `SET ${update.set}`,
        ConditionExpression: `#owner = :owner AND #epoch = :epoch${update.extra ? ` AND (${update.extra})` : ""}`,
        ExpressionAttributeNames: { "#owner": "owner", "#epoch": "epoch", ...update.names },
        ExpressionAttributeValues: { ":owner": lease.owner, ":epoch": lease.epoch, ...update.values },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

/**
 * Releases the lease unless a round was asked for since `clearRoundWanted`. Returns false
 * (lease kept) when one was: the caller runs another round.
 */
export function releaseLeaseUnlessWanted(ctx: StoreContext, lease: Lease): Promise<boolean> {
  return expireLease(ctx, lease, "attribute_not_exists(#dirty) OR #dirty = :no");
}

/** Gives the lease up early so the next round need not wait for it to expire (a no-op if it was lost). */
export async function releaseLease(ctx: StoreContext, lease: Lease): Promise<void> {
  await expireLease(ctx, lease);
}

/** The transaction item that fences a commit: it fails once anyone else took the lease over. */
export function leaseFence(ctx: StoreContext, lease: Lease): { ConditionCheck: ConditionCheck } {
  return {
    ConditionCheck: {
      TableName: ctx.tableName,
      Key: LEASE_KEY,
      ConditionExpression: "#epoch = :epoch AND #owner = :owner",
      ExpressionAttributeNames: { "#epoch": "epoch", "#owner": "owner" },
      ExpressionAttributeValues: { ":epoch": lease.epoch, ":owner": lease.owner },
    },
  };
}
