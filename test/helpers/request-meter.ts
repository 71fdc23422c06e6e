// Counts the DynamoDB requests a client sends and the capacity DynamoDB says they consumed
// (every request asks for ReturnConsumedCapacity=TOTAL), for tests and benches that check what
// a round reads and writes.
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

interface Consumed {
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
  CapacityUnits?: number;
}

const READS = new Set([
  "GetItemCommand",
  "QueryCommand",
  "BatchGetItemCommand",
  "ScanCommand",
  "TransactGetItemsCommand",
]);
const WRITES = new Set([
  "PutItemCommand",
  "UpdateItemCommand",
  "DeleteItemCommand",
  "BatchWriteItemCommand",
  "TransactWriteItemsCommand",
]);

export interface RequestMeter {
  /** Requests by command name since the last reset. */
  requests: Map<string, number>;
  readRequests(): number;
  writeRequests(): number;
  readUnits(): number;
  writeUnits(): number;
  reset(): void;
}

/** Adds a counting middleware to the client (it is shared with every store using the client). */
export function meterRequests(doc: DynamoDBDocumentClient): RequestMeter {
  const requests = new Map<string, number>();
  let readUnits = 0;
  let writeUnits = 0;
  const count = (names: Set<string>) => [...requests].reduce((sum, [name, n]) => (names.has(name) ? sum + n : sum), 0);
  doc.middlewareStack.add(
    (next, context) => async (args) => {
      const name = context.commandName ?? "unknown";
      const input = args.input as Record<string, unknown>;
      if (READS.has(name) || WRITES.has(name)) input.ReturnConsumedCapacity = "TOTAL";
      const result = await next(args);
      requests.set(name, (requests.get(name) ?? 0) + 1);
      const output = result.output as { ConsumedCapacity?: Consumed | Consumed[] };
      const consumed = output.ConsumedCapacity;
      for (const c of Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) {
        const units = c.CapacityUnits ?? 0;
        if (WRITES.has(name)) writeUnits += c.WriteCapacityUnits ?? units;
        else readUnits += c.ReadCapacityUnits ?? units;
      }
      return result;
    },
    { step: "serialize", priority: "high", name: "sousRequestMeter" },
  );
  return {
    requests,
    readRequests: () => count(READS),
    writeRequests: () => count(WRITES),
    readUnits: () => readUnits,
    writeUnits: () => writeUnits,
    reset: () => {
      requests.clear();
      readUnits = 0;
      writeUnits = 0;
    },
  };
}
