// Resource counters: one item per data node or worker that has charges, holding the amount
// of each resource in use (ADR 0002). Reading them all, and repairing them from the charges
// of running tasks when the two disagree (they only can through a bug or a manual edit).
import { TransactWriteCommand, paginateQuery } from "@aws-sdk/lib-dynamodb";
import type { StoreContext } from "./context";
import { COUNTER_PK, counterKey, counterKindOf, usedAttribute, type CounterKind } from "./keys";
import { leaseFence, type Lease } from "./lease";
import type { TaskItem } from "./tasks";

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

/**
 * Sets drifted counters to the expected amounts, under the lease and only if each still holds
 * the amount that was read (so a concurrent finish makes the repair fail, not go wrong).
 */
export async function repairCounters(ctx: StoreContext, lease: Lease, drift: readonly CounterDrift[]): Promise<void> {
  for (let i = 0; i < drift.length; i += 99) {
    await ctx.doc.send(
      new TransactWriteCommand({
        TransactItems: [
          leaseFence(ctx, lease),
          ...drift.slice(i, i + 99).map((d) => {
            const [kind, ...rest] = d.counter.split("#");
            return {
              Update: {
                TableName: ctx.tableName,
                Key: counterKey(kind as CounterKind, rest.join("#")),
                UpdateExpression: "SET #u = :expected",
                ConditionExpression: d.stored === 0 ? "attribute_not_exists(#u) OR #u = :zero" : "#u = :stored",
                ExpressionAttributeNames: { "#u": usedAttribute(d.resource) },
                ExpressionAttributeValues:
                  d.stored === 0
                    ? { ":expected": d.expected, ":zero": 0 }
                    : { ":expected": d.expected, ":stored": d.stored },
              },
            };
          }),
        ],
      }),
    );
  }
}
