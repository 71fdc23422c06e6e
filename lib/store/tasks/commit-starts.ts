// Starting tasks (ADR 0002): per transaction, a fence on the lease epoch, the change sequence's
// advance and entry (ADR 0003), one update per touched counter with the batch's summed amounts,
// and one conditional put or update per task, and the marker of a job this process has not seen
// recorded (./job-markers.ts).
import { sequenceAdvance, sequenceCursor } from "../change-sequence";
import type { StoreContext } from "../context";
import { taskKey } from "../keys";
import { leaseFence, type Lease } from "../lease";
import { counterId, counterUpdates } from "./counter-updates";
import { isJobRecorded, jobMarkerPut, markJobsRecorded } from "./job-markers";
import { packBatches, transactWithDrops, type TransactItem } from "./transact";
import type { StartCommitResult, StartWrite, StoredTask, TaskChange, TaskItem } from "./types";

/** Marks a task running for one attempt; the last finished status stays (it is `prev_status`). */
function runningRecord(start: StartWrite, round: number, nowMs: number): NonNullable<TaskItem["running"]> {
  return {
    attempt: start.attempt,
    tokenHash: start.tokenHash,
    worker: start.worker,
    workerInstance: start.workerInstance,
    startedAtMs: nowMs,
    round,
    charges: start.charges.map(({ level, name, resource, amount }) => ({ level, name, resource, amount })),
    nextBackoff: start.nextBackoff,
  };
}

/** The change entry's record of a start: the version it writes and the running record. */
function startChange(start: StartWrite, round: number, nowMs: number): TaskChange {
  const version = start.expectedVersion === null ? 1 : start.expectedVersion + 1;
  return { kind: "start", job: start.job, node: start.node, version, running: runningRecord(start, round, nowMs) };
}

function startUpdate(ctx: StoreContext, start: StartWrite, round: number, nowMs: number): TransactItem {
  const running = runningRecord(start, round, nowMs);
  if (start.expectedVersion === null) {
    // No item yet: a plain conditional put (cheaper to evaluate than an update).
    const item: StoredTask = {
      ...taskKey(start.job, start.node),
      job: start.job,
      node: start.node,
      state: "running",
      version: 1,
      running,
    };
    return { Put: { TableName: ctx.tableName, Item: item, ConditionExpression: "attribute_not_exists(pk)" } };
  }
  return {
    Update: {
      TableName: ctx.tableName,
      Key: taskKey(start.job, start.node),
      UpdateExpression: "SET #state = :running, #version = :next, #running = :attempt",
      ConditionExpression: "#version = :version AND #state <> :running",
      ExpressionAttributeNames: { "#state": "state", "#version": "version", "#running": "running" },
      ExpressionAttributeValues: {
        ":running": "running",
        ":next": start.expectedVersion + 1,
        ":attempt": running,
        ":version": start.expectedVersion,
      },
    },
  };
}

/**
 * Commits task starts under `lease`. Throws LeaseLostError when fenced out (nothing of the
 * failed batch is applied; earlier batches stand, and their tasks were validly started).
 */
export async function commitStarts(
  ctx: StoreContext,
  lease: Lease,
  requested: readonly StartWrite[],
  nowMs: number,
): Promise<StartCommitResult> {
  const result: StartCommitResult = { committed: [], rejected: [], refused: [], transactions: 0 };
  let starts = requested;
  const countersOf = (s: StartWrite) => new Set(s.charges.filter((c) => c.amount > 0).map(counterId));
  // A counter's first use has no value to compare, so an amount over its limit is refused here.
  const fits = (s: StartWrite) => s.charges.every((c) => c.amount <= c.limit);
  for (const start of starts) if (!fits(start)) result.rejected.push({ start, reason: "a charge exceeds its limit" });
  starts = starts.filter(fits);
  // A job's marker is an item of the transaction like a counter: one per distinct new job.
  const itemsOf = (s: StartWrite) => {
    const items = countersOf(s);
    if (!isJobRecorded(ctx, s.job)) items.add(`job#${s.job}`);
    return items;
  };
  // Reserved per transaction: the lease fence, the sequence and its entry.
  const cursor = sequenceCursor(ctx);
  for (const batch of packBatches(starts, itemsOf, 3)) {
    const { applied, transactions } = await transactWithDrops(
      ctx,
      cursor,
      batch,
      countersOf,
      (units) => {
        const charges = units.flatMap((u) => u.charges);
        const limits = new Map(charges.map((c) => [`${counterId(c)}/${c.resource}`, c.limit]));
        const counters = counterUpdates(ctx, charges, "take", limits);
        const changes = units.map((unit) => startChange(unit, lease.round, nowMs));
        const [advance, entry] = sequenceAdvance(ctx, cursor, changes, nowMs);
        return [
          { item: leaseFence(ctx, lease), owner: { fence: true } },
          ...[...new Set(units.map((u) => u.job))].flatMap((job) => {
            const item = jobMarkerPut(ctx, job);
            return item ? [{ item, owner: { jobs: true } as const }] : [];
          }),
          { item: advance, owner: { sequence: true } },
          { item: entry, owner: { entry: true } },
          ...counters.map(({ counter, item }) => ({ item, owner: { counter } })),
          ...units.map((unit) => ({ item: startUpdate(ctx, unit, lease.round, nowMs), owner: { unit } })),
        ];
      },
      (start, cause, reason) => (cause === "refused" ? result.refused : result.rejected).push({ start, reason }),
    );
    result.committed.push(...applied);
    result.transactions += transactions;
    markJobsRecorded(
      ctx,
      applied.map((s) => s.job),
    );
  }
  return result;
}
