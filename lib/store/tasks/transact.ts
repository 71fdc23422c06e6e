// Task transactions and what to do when one is cancelled: packing units into transactions of
// at most 100 items, dropping the units whose item or counter refused, retrying conflicts, and
// finding the units the store refuses outright (shared by starts and finishes).
import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { TransactWriteCommand, type TransactWriteCommandInput } from "@aws-sdk/lib-dynamodb";
import type { StoreContext } from "../context";
import { sequenceAdvanced, sequenceConflict, type SequenceCursor } from "../change-sequence";
import { LeaseLostError } from "../errors";
import { pauseBeforeRetry, TRANSACTION_CONFLICT_RETRY } from "../../retry";

export type TransactItem = NonNullable<TransactWriteCommandInput["TransactItems"]>[number];

export const TRANSACTION_ITEM_LIMIT = 100;

/** Splits work into transactions of at most 100 items (fence + distinct counters + tasks). */
export function packBatches<T>(work: readonly T[], countersOf: (t: T) => Iterable<string>, reserved: number): T[][] {
  const batches: T[][] = [];
  let batch: T[] = [];
  let counters = new Set<string>();
  for (const unit of work) {
    const added = [...countersOf(unit)].filter((c) => !counters.has(c));
    if (batch.length > 0 && reserved + counters.size + added.length + batch.length + 1 > TRANSACTION_ITEM_LIMIT) {
      batches.push(batch);
      batch = [];
      counters = new Set();
    }
    batch.push(unit);
    for (const c of countersOf(unit)) counters.add(c);
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/** Cancellation reasons that say nothing about the request: another try may succeed. */
export const RETRYABLE_CANCELLATIONS: ReadonlySet<string> = new Set([
  "TransactionConflict",
  "ThrottlingError",
  "ProvisionedThroughputExceeded",
]);

/**
 * A request DynamoDB refuses as a whole, whatever the other items say: a key or item over its
 * size limits, an invalid attribute. TransactWriteItems names no culprit item for these.
 */
export function isStoreValidationError(error: unknown): error is Error {
  return error instanceof Error && error.name === "ValidationException";
}

/** What each item of a transaction stands for, to read its cancellation reason. */
export type ItemOwner<T> =
  { fence: true } | { jobs: true } | { sequence: true } | { entry: true } | { counter: string } | { unit: T };

/**
 * Runs `build(units)` as one transaction. On cancellation it reads the reasons: a failed
 * fence means the lease is lost; a failed unit item or counter drops the units concerned
 * (reported through onDrop) and the rest is retried; plain conflicts are retried with backoff.
 * A validation error refuses the whole request without naming an item: the batch is split in
 * halves until the units the store refuses on their own are found (dropped as "refused"),
 * so one bad unit costs about 2·log2(batch) extra transactions and never blocks the others.
 * `build` advances the change sequence from `cursor` (lib/store/change-sequence.ts); when another
 * writer advanced it first, the cursor moves on and the transaction is built again.
 */
export async function transactWithDrops<T>(
  ctx: StoreContext,
  cursor: SequenceCursor,
  batch: T[],
  countersOf: (unit: T) => Set<string>,
  build: (units: T[]) => { item: TransactItem; owner: ItemOwner<T> }[],
  onDrop: (unit: T, cause: "item" | "counter" | "refused", reason: string) => void,
): Promise<{ applied: T[]; transactions: number }> {
  let units = batch;
  let transactions = 0;
  let moves = 0;
  for (let attempt = 0; units.length > 0; attempt++) {
    const parts = build(units);
    transactions++;
    try {
      await ctx.doc.send(new TransactWriteCommand({ TransactItems: parts.map((p) => p.item) }));
      sequenceAdvanced(ctx, cursor);
      return { applied: units, transactions };
    } catch (error) {
      if (isStoreValidationError(error)) {
        const done = await bisectRefusals(ctx, cursor, units, error.message, countersOf, build, onDrop);
        return { applied: done.applied, transactions: transactions + done.transactions };
      }
      if (!(error instanceof TransactionCanceledException)) throw error;
      const reasons = error.CancellationReasons ?? [];
      const failed = reasons.flatMap((r, i) =>
        r.Code && r.Code !== "None"
          ? [{ code: r.Code, owner: parts[i]?.owner, message: r.Message ?? r.Code, old: r.Item }]
          : [],
      );
      // Some stores name the refused items in the cancellation (DynamoDB Local does): drop exactly
      // those units; a refused item no unit owns (a counter's key) is found by splitting.
      const invalid = failed.filter((f) => f.code === "ValidationError");
      if (invalid.length > 0) {
        const owned = invalid.flatMap((f) => (f.owner && "unit" in f.owner ? [{ unit: f.owner.unit, ...f }] : []));
        if (owned.length < invalid.length) {
          const message = invalid.map((f) => f.message).join("; ");
          const done = await bisectRefusals(ctx, cursor, units, message, countersOf, build, onDrop);
          return { applied: done.applied, transactions: transactions + done.transactions };
        }
        for (const { unit, message } of owned) onDrop(unit, "refused", `the store refused it: ${message}`);
        const refused = new Set(owned.map((o) => o.unit));
        units = units.filter((u) => !refused.has(u));
        continue;
      }
      if (failed.some((f) => f.owner && "fence" in f.owner && f.code === "ConditionalCheckFailed")) {
        throw new LeaseLostError("The scheduler lease was taken over; this round commits nothing more.");
      }
      // Another writer advanced the sequence first: build again from where it is now.
      const moved = failed.find((f) => f.owner && "sequence" in f.owner && f.code === "ConditionalCheckFailed");
      if (moved) await sequenceConflict(ctx, cursor, moved.old);
      const conditionFailures = failed.filter((f) => f !== moved && f.code === "ConditionalCheckFailed");
      if (conditionFailures.length === 0) {
        const others = failed.filter((f) => f !== moved);
        if (moved && others.length === 0 && ++moves < 100) continue;
        const conflicts = attempt - moves;
        if (!others.every((f) => RETRYABLE_CANCELLATIONS.has(f.code)) || conflicts >= 8) throw error;
        await pauseBeforeRetry(conflicts + 1, TRANSACTION_CONFLICT_RETRY);
        continue;
      }
      const dropped = new Set<T>();
      const changed = conditionFailures.flatMap((f) => (f.owner && "unit" in f.owner ? [f.owner.unit] : []));
      for (const unit of changed) {
        dropped.add(unit);
        onDrop(unit, "item", "its task item changed since it was read");
      }
      // Units whose item changed are dropped first, alone: their charges may be what a counter
      // refused (a finish already applied by someone else has released them), so the rest is retried
      // before any counter is blamed.
      for (const { owner } of changed.length > 0 ? [] : conditionFailures) {
        if (owner && "counter" in owner) {
          // A counter refused: drop every unit charging it (a round re-plans them next time).
          for (const unit of units) {
            if (countersOf(unit).has(owner.counter) && !dropped.has(unit)) {
              dropped.add(unit);
              onDrop(unit, "counter", `counter ${owner.counter} refused the change`);
            }
          }
        }
      }
      // A condition failed on an item no unit owns (cannot happen by construction): do not spin.
      if (dropped.size === 0) throw error;
      units = units.filter((u) => !dropped.has(u));
    }
  }
  return { applied: [], transactions };
}

/** Splits a refused batch in halves and commits each, down to the single units the store refuses. */
async function bisectRefusals<T>(
  ctx: StoreContext,
  cursor: SequenceCursor,
  units: T[],
  message: string,
  countersOf: (unit: T) => Set<string>,
  build: (units: T[]) => { item: TransactItem; owner: ItemOwner<T> }[],
  onDrop: (unit: T, cause: "item" | "counter" | "refused", reason: string) => void,
): Promise<{ applied: T[]; transactions: number }> {
  const [only] = units;
  if (only !== undefined && units.length === 1) {
    onDrop(only, "refused", `the store refused it: ${message}`);
    return { applied: [], transactions: 0 };
  }
  const middle = Math.ceil(units.length / 2);
  const applied: T[] = [];
  let transactions = 0;
  for (const half of [units.slice(0, middle), units.slice(middle)]) {
    const done = await transactWithDrops(ctx, cursor, half, countersOf, build, onDrop);
    applied.push(...done.applied);
    transactions += done.transactions;
  }
  return { applied, transactions };
}
