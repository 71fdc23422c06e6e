// The change sequence and its change log (ADR 0003). One counter item (`SCHEDULER/CHANGES`)
// numbers every write a round plans against: each transaction that writes task items moves it
// from n to n+1, on the condition that it is still n, and puts change entry n+1 (`CHANGE/<n+1>`)
// holding the new state of every task it wrote. Numbers are therefore dense: entry k exists for
// every k the sequence passed, and a warm round that holds the tasks as of sequence s reads
// exactly the entries (s, now] (lib/round/task-cache.ts). Writes that are not task writes (node
// pushes) advance it with an empty entry. Entries expire after CHANGE_ENTRY_TTL_SEC (the table's
// TTL attribute); a warm state older than that reloads in full.
import { gunzipSync, gzipSync } from "node:zlib";
import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { GetCommand, TransactWriteCommand, paginateQuery, type TransactWriteCommandInput } from "@aws-sdk/lib-dynamodb";
import { pauseBeforeRetry, TRANSACTION_CONFLICT_RETRY } from "../retry";
import type { StoreContext } from "./context";
import { CHANGE_ENTRY_PK, CHANGE_SEQUENCE_KEY, changeEntryKey, changeEntrySk, TTL_ATTRIBUTE } from "./keys";
import type { TaskChange } from "./tasks/types";

type TransactItem = NonNullable<TransactWriteCommandInput["TransactItems"]>[number];

/**
 * Changes are stored as one gzipped JSON binary: nested lists of maps cost more to store, bill
 * more units and are slow to read back (DynamoDB Local takes seconds per MB of them).
 */
function encodeChanges(changes: readonly TaskChange[]): Uint8Array {
  return gzipSync(JSON.stringify(changes));
}

function decodeChanges(stored: Uint8Array): TaskChange[] {
  return JSON.parse(gunzipSync(stored).toString("utf8")) as TaskChange[];
}

/** How long change entries are kept (DynamoDB's TTL deletes them within days after). */
export const CHANGE_ENTRY_TTL_SEC = 24 * 3600;

/** Where the next transaction expects the sequence to be; moved on by a cancelled advance. */
export interface SequenceCursor {
  at: number;
}

// The last sequence each table was seen at, so a writer's first guess is usually right.
const lastSeen = new Map<string, number>();

/** A cursor starting at the last sequence this process saw for the table (0 if none). */
export function sequenceCursor(ctx: StoreContext): SequenceCursor {
  return { at: lastSeen.get(ctx.tableName) ?? 0 };
}

/**
 * The two transaction items that advance the sequence from `cursor.at` and log `changes` as
 * entry `cursor.at + 1`. The advance's condition fails when another writer moved it first;
 * `sequenceConflict` then reads where it is now.
 */
export function sequenceAdvance(
  ctx: StoreContext,
  cursor: SequenceCursor,
  changes: readonly TaskChange[],
  nowMs: number,
): [TransactItem, TransactItem] {
  const next = cursor.at + 1;
  return [
    {
      Update: {
        TableName: ctx.tableName,
        Key: CHANGE_SEQUENCE_KEY,
        UpdateExpression: "SET #seq = :next",
        ConditionExpression: cursor.at === 0 ? "attribute_not_exists(#seq) OR #seq = :at" : "#seq = :at",
        ExpressionAttributeNames: { "#seq": "seq" },
        ExpressionAttributeValues: { ":next": next, ":at": cursor.at },
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
      },
    },
    {
      Put: {
        TableName: ctx.tableName,
        Item: {
          ...changeEntryKey(next),
          changes: encodeChanges(changes),
          [TTL_ATTRIBUTE]: Math.floor(nowMs / 1000) + CHANGE_ENTRY_TTL_SEC,
        },
      },
    },
  ];
}

/** Records that an advance from `cursor.at` committed. */
export function sequenceAdvanced(ctx: StoreContext, cursor: SequenceCursor): void {
  cursor.at++;
  lastSeen.set(ctx.tableName, cursor.at);
}

/**
 * After the advance's condition failed: moves the cursor to where the sequence is (from the
 * cancellation's copy of the item when the store returns it, else read).
 */
export async function sequenceConflict(
  ctx: StoreContext,
  cursor: SequenceCursor,
  old: Record<string, unknown> | undefined,
): Promise<void> {
  const seq = old?.seq as { N?: string } | number | undefined;
  const seen = typeof seq === "number" ? seq : seq?.N !== undefined ? Number(seq.N) : undefined;
  cursor.at = seen ?? (await readChangeSequence(ctx));
  lastSeen.set(ctx.tableName, cursor.at);
}

/**
 * Runs a transaction made of `build(advance)` items plus the advance (placed where build puts
 * it), retrying while another writer moves the sequence first or a plain conflict cancels it.
 * Other cancellations are thrown (TransactionCanceledException) for the caller to read.
 */
export async function transactWithSequence(
  ctx: StoreContext,
  changes: readonly TaskChange[],
  nowMs: number,
  others: readonly TransactItem[] = [],
): Promise<void> {
  const cursor = sequenceCursor(ctx);
  for (let attempt = 0; ; attempt++) {
    const advance = sequenceAdvance(ctx, cursor, changes, nowMs);
    try {
      await ctx.doc.send(new TransactWriteCommand({ TransactItems: [...others, ...advance] }));
      sequenceAdvanced(ctx, cursor);
      return;
    } catch (error) {
      if (!(error instanceof TransactionCanceledException) || attempt >= 20) throw error;
      const reasons = error.CancellationReasons ?? [];
      const sequence = reasons[others.length];
      const moved = sequence?.Code === "ConditionalCheckFailed";
      if (moved) await sequenceConflict(ctx, cursor, sequence.Item);
      const refused = reasons
        .slice(0, others.length)
        .some((r) => r.Code && !["None", "TransactionConflict"].includes(r.Code));
      if (refused) throw error;
      if (reasons.some((r) => r.Code === "TransactionConflict")) {
        await pauseBeforeRetry(Math.min(attempt + 1, 7), TRANSACTION_CONFLICT_RETRY);
      } else if (!moved) throw error;
    }
  }
}

/** Advances the sequence with an empty entry, for writes that are not task writes (node pushes). */
export async function bumpChangeSequence(ctx: StoreContext, nowMs = Date.now()): Promise<void> {
  await transactWithSequence(ctx, [], nowMs);
}

/** The current sequence (0 before the first change), read strongly consistent. */
export async function readChangeSequence(ctx: StoreContext): Promise<number> {
  const result = await ctx.doc.send(
    new GetCommand({ TableName: ctx.tableName, Key: CHANGE_SEQUENCE_KEY, ConsistentRead: true }),
  );
  return Number(result.Item?.seq ?? 0);
}

/** One change entry: the sequence number it advanced to and the task states it logged. */
export interface ChangeEntry {
  seq: number;
  changes: TaskChange[];
}

/** The entries (after, through], in order, strongly consistent (missing ones are left out). */
export async function readChangeEntries(ctx: StoreContext, after: number, through: number): Promise<ChangeEntry[]> {
  const entries: ChangeEntry[] = [];
  if (through <= after) return entries;
  const pages = paginateQuery(
    { client: ctx.doc },
    {
      TableName: ctx.tableName,
      KeyConditionExpression: "pk = :pk AND sk BETWEEN :from AND :to",
      ExpressionAttributeValues: {
        ":pk": CHANGE_ENTRY_PK,
        ":from": changeEntrySk(after + 1),
        ":to": changeEntrySk(through),
      },
      ConsistentRead: true,
    },
  );
  for await (const page of pages) {
    for (const item of page.Items ?? []) {
      entries.push({ seq: Number(item.sk), changes: decodeChanges(item.changes as Uint8Array) });
    }
  }
  return entries;
}
