// Finishing tasks: each finish moves its task off `running` for the matching attempt (and
// token) and releases its charges in the same transaction, so a duplicate or stale status
// changes nothing.
import { sequenceAdvance, sequenceCursor } from "../change-sequence";
import type { StoreContext } from "../context";
import { taskKey } from "../keys";
import { leaseFence, type Lease } from "../lease";
import { counterId, counterUpdates } from "./counter-updates";
import { packBatches, transactWithDrops, type TransactItem } from "./transact";
import type { FinishApplyResult, FinishWrite, TaskChange } from "./types";

/** The change entry's record of a finish: it applies to the copy still running `attempt`. */
function finishChange(finish: FinishWrite): TaskChange {
  const { job, node, attempt, state, status, tokenHash } = finish;
  return { kind: "finish", job, node, attempt, state, status, ...(tokenHash === undefined ? {} : { tokenHash }) };
}

function finishUpdate(ctx: StoreContext, finish: FinishWrite): TransactItem {
  const token = finish.tokenHash;
  return {
    Update: {
      TableName: ctx.tableName,
      Key: taskKey(finish.job, finish.node),
      UpdateExpression:
        "SET #state = :state, #status = :status, #version = #version + :one, #last = :attempt" +
        (token === undefined ? " REMOVE #running, #lastToken" : ", #lastToken = :token REMOVE #running"),
      // The token is part of the decision: an end checked against one attempt never applies to another.
      ConditionExpression:
        "#state = :running AND #running.#attempt = :attempt" +
        (token === undefined ? "" : " AND #running.#tokenHash = :token"),
      ExpressionAttributeNames: {
        "#state": "state",
        "#status": "status",
        "#version": "version",
        "#running": "running",
        "#attempt": "attempt",
        "#last": "lastAttempt",
        "#lastToken": "lastTokenHash",
        ...(token === undefined ? {} : { "#tokenHash": "tokenHash" }),
      },
      ExpressionAttributeValues: {
        ":state": finish.state,
        ":status": finish.status,
        ":one": 1,
        ":running": "running",
        ":attempt": finish.attempt,
        ...(token === undefined ? {} : { ":token": token }),
      },
    },
  };
}

/**
 * Records finished attempts and releases their charges, in transactions of at most 100
 * items. A finish whose task is not running that attempt is reported stale and changes nothing.
 * With `lease` (a round ending attempts on its own judgement: lost workers, unknown attempts),
 * every transaction is fenced like a commit: a round that lost its lease ends nothing
 * (LeaseLostError).
 */
export async function applyFinishes(
  ctx: StoreContext,
  finishes: readonly FinishWrite[],
  lease?: Lease,
): Promise<FinishApplyResult> {
  const result: FinishApplyResult = { applied: [], stale: [], refused: [], transactions: 0 };
  const countersOf = (f: FinishWrite) => new Set(f.charges.filter((c) => c.amount > 0).map(counterId));
  // Room for the sequence's advance and entry, and the lease fence when a round ends attempts itself.
  const cursor = sequenceCursor(ctx);
  const nowMs = Date.now();
  for (const batch of packBatches(finishes, countersOf, lease ? 3 : 2)) {
    const { applied, transactions } = await transactWithDrops(
      ctx,
      cursor,
      batch,
      countersOf,
      (units) => {
        const counters = counterUpdates(
          ctx,
          units.flatMap((u) => u.charges),
          "release",
        );
        const [advance, entry] = sequenceAdvance(ctx, cursor, units.map(finishChange), nowMs);
        return [
          { item: advance, owner: { sequence: true } as const },
          { item: entry, owner: { entry: true } as const },
          ...(lease ? [{ item: leaseFence(ctx, lease), owner: { fence: true } as const }] : []),
          ...counters.map(({ counter, item }) => ({ item, owner: { counter } })),
          ...units.map((unit) => ({ item: finishUpdate(ctx, unit), owner: { unit } })),
        ];
      },
      (finish, cause, reason) => {
        if (cause === "item") result.stale.push(finish);
        else result.refused.push({ finish, reason });
      },
    );
    result.applied.push(...applied);
    result.transactions += transactions;
  }
  return result;
}
