// Request meter for the benchmarks: a middleware on SDK clients that counts every request by
// service and command and adds up DynamoDB capacity units. DynamoDB Local under-reports
// transactions (a fraction of a unit per item), so each request counts at least what AWS bills
// at minimum: 2 write units per transactional item, 1 per plain write, 2 read units per item of a
// transactional read; above that, what the emulator reports (ReturnConsumedCapacity: TOTAL).
// SQS ReceiveMessage calls that returned nothing are kept apart: they are time-based polling.
import type { Client } from "@smithy/types";

export interface MeterCounts {
  /** "service Command" -> requests. */
  requests: Map<string, number>;
  readUnits: number;
  writeUnits: number;
  emptyReceives: number;
  /** "service Command" -> read and write units. */
  units: Map<string, { read: number; write: number }>;
  /** service -> [requests timed, total ms]. */
  latency: Map<string, [number, number]>;
}

export interface Meter {
  counts(): MeterCounts;
  reset(): void;
  /** Requests of a service ("dynamodb", "sqs", "s3"), optionally only those of some commands. */
  total(service: string, commands?: readonly string[]): number;
  /** Mean time a request of the service took (ms). */
  meanLatencyMs(service: string): number;
}

const CAPACITY_COMMANDS = new Set([
  "GetItemCommand",
  "PutItemCommand",
  "UpdateItemCommand",
  "DeleteItemCommand",
  "QueryCommand",
  "ScanCommand",
  "BatchGetItemCommand",
  "BatchWriteItemCommand",
  "TransactWriteItemsCommand",
  "TransactGetItemsCommand",
  "GetCommand",
  "PutCommand",
  "UpdateCommand",
  "DeleteCommand",
  "BatchGetCommand",
  "BatchWriteCommand",
  "TransactWriteCommand",
  "TransactGetCommand",
]);

interface Capacity {
  CapacityUnits?: number;
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
}

const sumCapacity = (consumed: unknown, key: "ReadCapacityUnits" | "WriteCapacityUnits"): number => {
  const list = (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) as Capacity[];
  return list.reduce((n, c) => n + (c[key] ?? 0), 0);
};

const lengthOf = (value: unknown): number => (Array.isArray(value) ? value.length : 0);
const batchItems = (requestItems: unknown): number =>
  Object.values((requestItems ?? {}) as Record<string, unknown>).reduce<number>((n, v) => {
    if (Array.isArray(v)) return n + v.length;
    return n + lengthOf((v as { Keys?: unknown } | undefined)?.Keys);
  }, 0);

/** Splits a command's count by what it touched (e.g. which queue): a suffix for its key, or none. */
export type RequestLabel = (service: string, command: string, input: Record<string, unknown>) => string | undefined;

/** Starts metering the given clients (from now on); one meter can watch several. */
export function meterClients(
  clients: readonly { service: string; client: Client<never, never, never> }[],
  labelOf?: RequestLabel,
): Meter {
  const empty = (): MeterCounts => ({
    requests: new Map(),
    readUnits: 0,
    writeUnits: 0,
    emptyReceives: 0,
    units: new Map(),
    latency: new Map(),
  });
  let counts = empty();
  for (const { service, client } of clients) {
    const stack = (client as unknown as { middlewareStack: { add: (mw: unknown, options: unknown) => void } })
      .middlewareStack;
    stack.add(
      (
        next: (args: { input: Record<string, unknown> }) => Promise<{ output: Record<string, unknown> }>,
        context: { commandName?: string },
      ) =>
        async (args: { input: Record<string, unknown> }) => {
          const command = context.commandName ?? "unknown";
          const input = args.input;
          const metered = service === "dynamodb" && CAPACITY_COMMANDS.has(command);
          if (metered) input.ReturnConsumedCapacity = "TOTAL";
          const t = performance.now();
          const result = await next(args);
          const [n, ms] = counts.latency.get(service) ?? [0, 0];
          counts.latency.set(service, [n + 1, ms + performance.now() - t]);
          const output = result.output;
          if (service === "sqs" && command === "ReceiveMessageCommand" && lengthOf(output.Messages) === 0) {
            counts.emptyReceives++;
            return result;
          }
          const label = labelOf?.(service, command, input);
          const key = `${service} ${command.replace(/Command$/, "")}${label ? ` ${label}` : ""}`;
          counts.requests.set(key, (counts.requests.get(key) ?? 0) + 1);
          if (!metered) return result;
          const [readBefore, writeBefore] = [counts.readUnits, counts.writeUnits];
          const reported = {
            read: sumCapacity(output.ConsumedCapacity, "ReadCapacityUnits"),
            write: sumCapacity(output.ConsumedCapacity, "WriteCapacityUnits"),
          };
          const total = sumCapacity(output.ConsumedCapacity, "CapacityUnits" as never);
          if (/^TransactWrite/.test(command)) {
            counts.writeUnits += Math.max(reported.write || total, 2 * lengthOf(input.TransactItems));
          } else if (/^TransactGet/.test(command)) {
            counts.readUnits += Math.max(reported.read || total, 2 * lengthOf(input.TransactItems));
          } else if (/^(Put|Update|Delete)/.test(command)) {
            counts.writeUnits += Math.max(reported.write || total, 1);
          } else if (/^BatchWrite/.test(command)) {
            counts.writeUnits += Math.max(reported.write || total, batchItems(input.RequestItems));
          } else {
            // Reads: a strongly consistent item read is at least 1 unit, an eventually consistent 0.5.
            const minimum = /^(Get|BatchGet)/.test(command)
              ? (command.startsWith("Get") ? 1 : batchItems(input.RequestItems)) * (input.ConsistentRead ? 1 : 0.5)
              : 0.5;
            counts.readUnits += Math.max(reported.read || total, minimum);
          }
          const units = counts.units.get(key) ?? { read: 0, write: 0 };
          units.read += counts.readUnits - readBefore;
          units.write += counts.writeUnits - writeBefore;
          counts.units.set(key, units);
          return result;
        },
      { step: "initialize", name: `benchMeter-${service}` },
    );
  }
  return {
    counts: () => counts,
    reset() {
      counts = empty();
    },
    meanLatencyMs(service) {
      const [n, ms] = counts.latency.get(service) ?? [0, 0];
      return n === 0 ? 0 : ms / n;
    },
    total(service, commands) {
      let n = 0;
      for (const [key, value] of counts.requests) {
        const [s, c] = key.split(" ");
        if (s === service && (!commands || commands.includes(c ?? ""))) n += value;
      }
      return n;
    },
  };
}
