// Resource counters: one item per data node or worker that has charges, holding the amount
// of each resource in use (ADR 0002). Reading them all, and repairing them from the charges
// of running tasks when the two disagree (they only can through a bug or a manual edit).
import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { TransactWriteCommand, paginateQuery } from "@aws-sdk/lib-dynamodb";
import type { StoreContext } from "./context";
import { LeaseLostError } from "./errors";
import { COUNTER_PK, counterKey, counterKindOf, usedAttribute, type CounterKind } from "./keys";
import { leaseFence, type Lease } from "./lease";
import { RETRYABLE_CANCELLATIONS } from "./tasks/transact";
import type { TaskItem } from "./tasks/types";

const USED_PREFIX = usedAttribute("");

/** counter id (`node#db1`, `worker#w1`) -> resource -> amount in use. */
export type CounterUsage = Map<string, Map<string, number>>;

export async function readCounters(ctx: StoreContext): Promise<CounterUsage> {
  const usage: CounterUsage = new Map();
  const pages = paginateQuery(
    { client: ctx.doc },
    {
      TableName: ctx.tableName,
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": COUNTER_PK },
      ConsistentRead: true,
    },
  );
  for await (const page of pages) {
    for (const item of page.Items ?? []) {
      const resources = new Map<string, number>();
      for (const [attribute, value] of Object.entries(item)) {
        if (attribute.startsWith(USED_PREFIX)) resources.set(attribute.slice(USED_PREFIX.length), Number(value));
      }
      usage.set(String(item.sk), resources);
    }
  }
  return usage;
}

/** What the counters should hold: the sum of the charges of running tasks. */
export function usageOfRunningTasks(tasks: readonly TaskItem[]): CounterUsage {
  const usage: CounterUsage = new Map();
  for (const task of tasks) {
    for (const charge of task.running?.charges ?? []) {
      const id = `${counterKindOf(charge.level)}#${charge.name}`;
      let resources = usage.get(id);
      if (!resources) usage.set(id, (resources = new Map<string, number>()));
      resources.set(charge.resource, (resources.get(charge.resource) ?? 0) + charge.amount);
    }
  }
  return usage;
}

export interface CounterDrift {
  counter: string;
  resource: string;
  stored: number;
  expected: number;
}

export function counterDrift(stored: CounterUsage, expected: CounterUsage): CounterDrift[] {
  const drift: CounterDrift[] = [];
  for (const counter of new Set([...stored.keys(), ...expected.keys()])) {
    const have = stored.get(counter) ?? new Map<string, number>();
    const want = expected.get(counter) ?? new Map<string, number>();
    for (const resource of new Set([...have.keys(), ...want.keys()])) {
      const storedAmount = have.get(resource) ?? 0;
      const expectedAmount = want.get(resource) ?? 0;
      if (storedAmount !== expectedAmount)
        drift.push({ counter, resource, stored: storedAmount, expected: expectedAmount });
    }
  }
  return drift;
}

/** Counter items per repair transaction (the lease fence takes the 100th place). */
const REPAIRS_PER_TRANSACTION = 99;

/**
 * Sets drifted counters to the expected amounts, under the lease and only if each still holds
 * the amount that was read (so a concurrent finish makes the repair fail, not go wrong). One
 * update per counter item, whatever number of its resources drifted (a transaction may not
 * touch an item twice), 99 counter items per transaction. Returns false when a counter no longer
 * held its amount, or another write on it was in flight: nothing of that transaction applied
 * (earlier ones stand: each was right).
 * LeaseLostError once `lease` was taken over.
 */
export async function repairCounters(
  ctx: StoreContext,
  lease: Lease,
  drift: readonly CounterDrift[],
): Promise<boolean> {
  const byCounter = new Map<string, CounterDrift[]>();
  for (const d of drift) byCounter.set(d.counter, [...(byCounter.get(d.counter) ?? []), d]);
  const updates = [...byCounter].map(([counter, entries]) => {
    const [kind, ...rest] = counter.split("#");
    const names: Record<string, string> = {};
    const values: Record<string, number> = {};
    const sets: string[] = [];
    const conditions: string[] = [];
    entries.forEach((d, i) => {
      names[`#u${i}`] = usedAttribute(d.resource);
      values[`:expected${i}`] = d.expected;
      values[`:stored${i}`] = d.stored;
      sets.push(`#u${i} = :expected${i}`);
      conditions.push(
        d.stored === 0 ? `(attribute_not_exists(#u${i}) OR #u${i} = :stored${i})` : `#u${i} = :stored${i}`,
      );
    });
    return {
      Update: {
        TableName: ctx.tableName,
        Key: counterKey(kind as CounterKind, rest.join("#")),
        UpdateExpression: `SET ${sets.join(", ")}`,
        ConditionExpression: conditions.join(" AND "),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      },
    };
  });
  for (let i = 0; i < updates.length; i += REPAIRS_PER_TRANSACTION) {
    const batch = updates.slice(i, i + REPAIRS_PER_TRANSACTION);
    try {
      await ctx.doc.send(new TransactWriteCommand({ TransactItems: [leaseFence(ctx, lease), ...batch] }));
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const [fence, ...counters] = error.CancellationReasons ?? [];
      if (fence?.Code === "ConditionalCheckFailed") {
        throw new LeaseLostError("The scheduler lease was taken over; no counter was repaired.", { cause: error });
      }
      // A counter changed since it was read, or a release is in flight on it: look again later.
      const raced = (code = "") => code === "ConditionalCheckFailed" || RETRYABLE_CANCELLATIONS.has(code);
      if (counters.some((reason) => raced(reason.Code))) return false;
      throw error;
    }
  }
  return true;
}
