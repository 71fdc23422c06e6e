// Benchmark: committing task starts and finishes with the batched protocol (one transaction
// per up to 100 items, counters summed per batch) against a naive one (one transaction per
// task), both on DynamoDB Local in the same run. Prints the wall-time ratio (goal: batched at
// least 10x faster) and the write units per task start and finish as AWS bills them, computed
// from the sizes of the items written (goal: at most 3 each, amortized). Also the AWS requests
// per 100 starts and per 100 finishes (DynamoDB requests counted by a client middleware, plus the
// SQS start orders at 10 per SendMessageBatch): request counts are what hold on AWS, where
// DynamoDB Local's per-item speed does not.
//   npm run bench:commit [-- --tasks 2000]
import { randomUUID } from "node:crypto";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { makeAwsClients } from "../lib/aws";
import { meterClients, type Meter } from "./meter";
import { startEmulators } from "../lib/local/emulators";
import type { StoreContext } from "../lib/store/context";
import { itemSize, transactionalWriteUnits } from "../lib/store/item-size";
import { acquireLease } from "../lib/store/lease";
import { ensureTable } from "../lib/store/table";
import { applyFinishes, commitStarts, type FinishWrite, type StartWrite } from "../lib/store/tasks";

const tasks = Number(process.argv[process.argv.indexOf("--tasks") + 1] || 2000) || 2000;

function starts(): StartWrite[] {
  return Array.from({ length: tasks }, (_, i) => ({
    job: "bench_job",
    node: `shard-${String(i).padStart(6, "0")}`,
    attempt: `r1.${i}`,
    tokenHash: "bench-token-hash",
    worker: "worker-1",
    workerInstance: "worker-1-a",
    nextBackoff: { seconds: 15, noMoreBackoffs: false },
    expectedVersion: null,
    charges: [{ level: "instance", name: "scheduler", resource: "concurrency", amount: 1, limit: 1_000_000 }],
  }));
}

function finishes(list: StartWrite[]): FinishWrite[] {
  return list.map((s) => ({
    job: s.job,
    node: s.node,
    attempt: s.attempt,
    status: { bits: 4, timeSec: 1_790_000_000, backoffSec: 0 },
    state: "done",
    charges: s.charges.map(({ level, name, resource, amount }) => ({ level, name, resource, amount })),
  }));
}

async function sizes(ctx: StoreContext): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let start: Record<string, unknown> | undefined;
  do {
    const page = await ctx.doc.send(new ScanCommand({ TableName: ctx.tableName, ExclusiveStartKey: start }));
    for (const item of page.Items ?? []) out.set(`${String(item.pk)}|${String(item.sk)}`, itemSize(item));
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

interface Run {
  startMs: number;
  finishMs: number;
  startUnits: number;
  finishUnits: number;
  /** DynamoDB requests of the start commit and of the finishes. */
  startRequests: number;
  finishRequests: number;
}

/** Start orders go out 10 to a SendMessageBatch (lib/dispatch/sqs.ts). */
const SQS_BATCH = 10;
/** Batched passes before measuring, and measured (their median is compared with one naive pass). */
const WARM_UP_PASSES = 3;
const BATCHED_PASSES = 3;

async function run(dynamodb: DynamoDBClient, ctx: StoreContext, naive: boolean, meter: Meter): Promise<Run> {
  await ensureTable(dynamodb, ctx.tableName);
  const lease = (await acquireLease(ctx, "bench", Date.now(), 3_600_000))!;
  const list = starts();
  meter.reset();
  let t = performance.now();
  let startTransactions = 0;
  if (naive) {
    for (const s of list) startTransactions += (await commitStarts(ctx, lease, [s], Date.now())).transactions;
  } else {
    startTransactions = (await commitStarts(ctx, lease, list, Date.now())).transactions;
  }
  const startMs = performance.now() - t;
  const startRequests = meter.total("dynamodb");
  const running = await sizes(ctx);

  meter.reset();
  t = performance.now();
  let finishTransactions = 0;
  const ends = finishes(list);
  if (naive) {
    for (const f of ends) finishTransactions += (await applyFinishes(ctx, [f])).transactions;
  } else {
    finishTransactions = (await applyFinishes(ctx, ends)).transactions;
  }
  const finishMs = performance.now() - t;
  const finishRequests = meter.total("dynamodb");
  const finished = await sizes(ctx);

  const size = (map: Map<string, number>, key: string) => map.get(key) ?? 0;
  const unitsOf = (key: string) => transactionalWriteUnits(Math.max(size(running, key), size(finished, key)));
  const taskKeys = list.map((s) => `TASK#${s.job}|${s.node}`);
  const perTransaction = (keys: string[]) => keys.reduce((n, k) => n + unitsOf(k), 0);
  // Each committed transaction logged one change entry (ADR 0003), written once.
  const entryUnits = (map: Map<string, number>, before?: Map<string, number>) =>
    [...map].reduce(
      (n, [key, bytes]) => (key.startsWith("CHANGE|") && !before?.has(key) ? n + transactionalWriteUnits(bytes) : n),
      0,
    );
  // Start transaction: lease fence + jobs set + change sequence + its entry + counter + its tasks.
  // Finish: change sequence + its entry + counter + its tasks.
  const startUnits =
    startTransactions *
      perTransaction(["SCHEDULER|LEASE", "SCHEDULER|JOBS", "SCHEDULER|CHANGES", "COUNTER|node#scheduler"]) +
    entryUnits(running) +
    taskKeys.reduce((n, k) => n + transactionalWriteUnits(size(running, k)), 0);
  const finishUnits =
    finishTransactions * perTransaction(["SCHEDULER|CHANGES", "COUNTER|node#scheduler"]) +
    entryUnits(finished, running) +
    taskKeys.reduce((n, k) => n + unitsOf(k), 0);
  return { startMs, finishMs, startUnits, finishUnits, startRequests, finishRequests };
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const emulators = await startEmulators({ sqsAndS3: false });
  const aws = makeAwsClients({ endpoints: { dynamodb: emulators.endpoints.dynamodb } });
  const meter = meterClients([{ service: "dynamodb", client: aws.dynamodb as never }]);
  try {
    const table = () => ({ doc: aws.doc, tableName: `bench-${randomUUID().slice(0, 8)}` });
    // Warm up the JVM's compiler on the transaction path so neither variant pays for it: one pass
    // left DynamoDB Local's code half compiled (batched 2.6 s, then about 1.7 s from the third).
    for (let i = 0; i < WARM_UP_PASSES; i++) await run(aws.dynamodb, table(), false, meter);
    const passes: Run[] = [];
    for (let i = 0; i < BATCHED_PASSES; i++) passes.push(await run(aws.dynamodb, table(), false, meter));
    const totalMs = (r: Run) => r.startMs + r.finishMs;
    const batched = [...passes].sort((a, b) => totalMs(a) - totalMs(b))[Math.floor(BATCHED_PASSES / 2)]!;
    const naive = await run(aws.dynamodb, table(), true, meter);
    const row = (name: string, r: Run) =>
      `${name.padEnd(8)} start ${r.startMs.toFixed(0).padStart(6)} ms  finish ${r.finishMs.toFixed(0).padStart(6)} ms  ` +
      `WCU/start ${(r.startUnits / tasks).toFixed(2)}  WCU/finish ${(r.finishUnits / tasks).toFixed(2)}`;
    console.log(`${tasks} tasks on one instance counter, DynamoDB Local, after ${WARM_UP_PASSES} warm-up passes`);
    console.log(`batched passes: ${passes.map((r) => `${totalMs(r).toFixed(0)} ms`).join(", ")} (the median below)`);
    console.log(row("batched", batched));
    console.log(row("naive", naive));
    const ratio = (naive.startMs + naive.finishMs) / (batched.startMs + batched.finishMs);
    const per100 = (n: number) => ((n / tasks) * 100).toFixed(1);
    for (const [name, r] of [
      ["batched", batched],
      ["naive", naive],
    ] as const) {
      console.log(
        `${name.padEnd(8)} AWS requests per 100 starts: ${per100(r.startRequests)} DynamoDB + ` +
          `${(100 / SQS_BATCH).toFixed(1)} SQS (start orders); per 100 finishes: ${per100(r.finishRequests)} DynamoDB`,
      );
    }
    console.log(`wall-time ratio naive/batched: ${ratio.toFixed(1)}x (goal >= 10x)`);
    const ok = batched.startUnits / tasks <= 3 && batched.finishUnits / tasks <= 3;
    console.log(`write units per start and finish <= 3: ${ok ? "yes" : "NO"}`);
    if (!ok) process.exitCode = 1;
  } finally {
    aws.destroy();
    await emulators.stop();
  }
}

void main();
