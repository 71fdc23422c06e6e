// Counter updates of a start or finish transaction: the charges summed per counter and
// resource, taken under the planned limit or released, each conditional.
import type { StoreContext } from "../context";
import { counterKey, counterKindOf, usedAttribute } from "../keys";
import type { TransactItem } from "./transact";
import type { CounterCharge } from "./types";

export const counterId = (c: CounterCharge) => `${counterKindOf(c.level)}#${c.name}`;

/** Sums charges per counter and resource, dropping zero amounts (they need no write). */
export function sumCharges<C extends CounterCharge>(charges: readonly C[]): Map<string, Map<string, C>> {
  const byCounter = new Map<string, Map<string, C>>();
  for (const charge of charges) {
    if (charge.amount === 0) continue;
    let resources = byCounter.get(counterId(charge));
    if (!resources) byCounter.set(counterId(charge), (resources = new Map<string, C>()));
    const previous = resources.get(charge.resource);
    resources.set(charge.resource, previous ? { ...previous, amount: previous.amount + charge.amount } : charge);
  }
  return byCounter;
}

/** One update per counter: add (start) or subtract (finish) the summed amounts, conditionally. */
export function counterUpdates(
  ctx: StoreContext,
  charges: readonly CounterCharge[],
  direction: "take" | "release",
  limits?: ReadonlyMap<string, number>,
): { counter: string; item: TransactItem }[] {
  return [...sumCharges(charges)].map(([counter, resources]) => {
    const names: Record<string, string> = {};
    const values: Record<string, number> = {};
    const sets: string[] = [];
    const conditions: string[] = [];
    let i = 0;
    for (const charge of resources.values()) {
      const n = `#u${i}`;
      names[n] = usedAttribute(charge.resource);
      values[`:a${i}`] = charge.amount;
      if (direction === "take") {
        // A counter is created on first use; in use may not pass limit - amount.
        const limit = limits?.get(`${counter}/${charge.resource}`) ?? 0;
        values[`:max${i}`] = limit - charge.amount;
        values[":zero"] = 0;
        sets.push(`${n} = if_not_exists(${n}, :zero) + :a${i}`);
        // Summed amounts over the limit refuse even a counter's first use (nothing to compare yet).
        conditions.push(
          limit >= charge.amount ? `(attribute_not_exists(${n}) OR ${n} <= :max${i})` : `${n} <= :max${i}`,
        );
      } else {
        sets.push(`${n} = ${n} - :a${i}`);
        conditions.push(`${n} >= :a${i}`);
      }
      i++;
    }
    const first = resources.values().next().value as CounterCharge;
    return {
      counter,
      item: {
        Update: {
          TableName: ctx.tableName,
          Key: counterKey(counterKindOf(first.level), first.name),
          UpdateExpression: `SET ${sets.join(", ")}`,
          ConditionExpression: conditions.join(" AND "),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        },
      },
    };
  });
}
