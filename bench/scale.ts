// Benchmark: what rounds read as history grows (issue #14, ADR 0003), on DynamoDB Local in one
// run. A deployment of N nodes (hosts x databases) and J jobs, no workers (so the plan is the
// same every round and nothing starts). Finished tasks are seeded in bulk (done items, the jobs
// set and a change-sequence bump, as the commit protocol leaves them); rounds read them exactly
// as production does. It measures:
//   - an idle round (nothing changed, no timer due) at 10k and at F finished tasks;
//   - a cold start (a fresh process, no caches) loading that state: one full round, from the
//     checkpoint the warm process wrote (ADR 0003 step 3), and, for comparison, without one;
//   - a warm round after 1% of the N x J tasks changed (finished) since the last round.
// The peak JS heap is taken over the rounds: sampled every 10 ms and read before every garbage
// collection (V8's GC profiler), so it is the true peak, not a sample after the round.
//   npm run bench:scale [-- --nodes 1000000 --jobs 10 --finished 1000000 --changed 100000 --parallel 32]
import { randomUUID } from "node:crypto";
import { loadavg } from "node:os";
import { makeAwsClients } from "../lib/aws";
import { startEmulators } from "../lib/local/emulators";
import { memoryCheckpointStore } from "../lib/round/checkpoint";
import { runRounds, type RoundDeps } from "../lib/round/run-round";
import { bumpChangeSequence } from "../lib/store/change-sequence";
import { putConfig } from "../lib/store/config-store";
import type { StoreContext } from "../lib/store/context";
import { ensureTable } from "../lib/store/table";
import { meterRequests } from "../test/helpers/request-meter";
import { watchPeakMemory, type PeakMemory } from "./peak-memory";
import { seedFinishedTasks } from "../test/helpers/seed-tasks";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) || fallback : fallback;
};
const NODES = arg("nodes", 1_000_000);
const JOBS = arg("jobs", 10);
const FINISHED = arg("finished", 1_000_000);
const SMALL = Math.min(10_000, FINISHED);
/** Tasks changed (finished) before the last round: 1% of the (job, node) pairs unless told. */
const CHANGED = arg("changed", Math.round((NODES * JOBS) / 100));
/** Batch writers at a time while seeding (DynamoDB Local takes ~32 well on 2 cores). */
const PARALLEL = arg("parallel", 32);
// Hosts and databases together make NODES (1,000 hosts x 999 databases for 1M: the node limit).
const HOSTS = Math.max(1, Math.round(Math.sqrt(NODES)));
const DBS = Math.max(1, Math.floor((NODES - HOSTS) / HOSTS));

const hostName = (h: number) => `host${h}`;
const dbName = (h: number, d: number) => `host${h}.db${d}`;
const jobName = (j: number) => `job${String(j).padStart(2, "0")}`;

function config(): Record<string, unknown> {
  const hosts = Object.fromEntries(Array.from({ length: HOSTS }, (_, h) => [hostName(h), []]));
  const document: Record<string, unknown> = {
    bistro_settings: {
      enabled: true,
      nodes: {
        levels: ["host", "db"],
        node_sources: [
          { source: "manual", prefs: hosts },
          { source: "range_label", prefs: { parent_level: "host", format: "{parent}.db{i}", start: 0, end: DBS - 1 } },
        ],
      },
      resources: { instance: { concurrency: { limit: 1000, default: 1 } } },
    },
  };
  for (let j = 0; j < JOBS; j++) document[`bistro_job->${jobName(j)}`] = { owner: "bench" };
  return document;
}

/** The `count` (job, db) pairs starting at `offset`, in job-major order over the dbs. */
function pairs(offset: number, count: number): Map<string, string[]> {
  const byJob = new Map<string, string[]>();
  const perJob = HOSTS * DBS;
  if (offset + count > perJob * JOBS) throw new Error(`more tasks than ${JOBS} jobs x ${perJob} databases`);
  for (let i = offset; i < offset + count; i++) {
    const job = jobName(i % JOBS);
    const k = Math.floor(i / JOBS) % perJob;
    const list = byJob.get(job) ?? [];
    list.push(dbName(k % HOSTS, Math.floor(k / HOSTS)));
    byJob.set(job, list);
  }
  return byJob;
}

async function seed(ctx: StoreContext, offset: number, count: number, nowSec: number): Promise<number> {
  const t = performance.now();
  for (const [job, nodes] of pairs(offset, count)) await seedFinishedTasks(ctx, job, nodes, nowSec, PARALLEL);
  return (performance.now() - t) / 1000;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

/** Peak JS heap and memory outside it (typed arrays, Buffers) while `work` runs. */
async function peakMemory<T>(work: () => Promise<T>): Promise<{ result: T } & PeakMemory> {
  const watch = watchPeakMemory();
  try {
    const result = await work();
    return { result, ...watch.stop() };
  } catch (error) {
    watch.stop();
    throw error;
  }
}

/** `uptime`'s one-minute load average, printed next to each figure (a shared machine skews them). */
const load = () => `load ${(loadavg()[0] ?? 0).toFixed(1)}`;

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const emulators = await startEmulators({ sqsAndS3: false });
  const aws = makeAwsClients({ endpoints: { dynamodb: emulators.endpoints.dynamodb } });
  const meter = meterRequests(aws.doc);
  try {
    const ctx: StoreContext = { doc: aws.doc, tableName: `scale-${randomUUID().slice(0, 8)}` };
    await ensureTable(aws.dynamodb, ctx.tableName);
    const startMs = Date.now();
    let nowMs = startMs;
    const deps = (): RoundDeps => ({
      store: ctx,
      sqs: aws.sqs,
      clock: () => nowMs,
      rng: Math.random,
      owner: `bench-${randomUUID().slice(0, 8)}`,
      instanceName: "scheduler",
    });
    // Checkpoints kept in memory: what they cost in S3 is a GET and a PUT, not read units.
    const checkpoints = memoryCheckpointStore();
    const warm: RoundDeps = { ...deps(), checkpoints };
    let peakHeap = 0;
    let peakOutside = 0;
    const round = async (d: RoundDeps, label: string) => {
      meter.reset();
      const seen = { idle: false };
      d.log = (event) => {
        if (event.event === "round-idle") seen.idle = true;
      };
      const t = performance.now();
      const measured = await peakMemory(() => runRounds(d, 1));
      const reports = measured.result;
      const wallSec = (performance.now() - t) / 1000;
      const problem = reports[0]?.reasons.find((r) => r.message.startsWith("Nodes could not"));
      if (problem) throw new Error(problem.message);
      peakHeap = Math.max(peakHeap, measured.heap);
      peakOutside = Math.max(peakOutside, measured.outside);
      const idle = seen.idle;
      const row = {
        wallSec,
        readUnits: meter.readUnits(),
        reads: meter.readRequests(),
        writes: meter.writeRequests(),
        idle,
      };
      console.log(
        `${label.padEnd(44)} ${idle ? "idle" : reports.length === 1 ? "full" : "none"}  ${wallSec.toFixed(2).padStart(7)} s  ` +
          `${row.reads} reads ${row.readUnits.toFixed(1)} read units  ${row.writes} writes  ` +
          `peak heap ${mb(measured.heap)}  ${load()}`,
      );
      return row;
    };
    console.log(`${HOSTS + HOSTS * DBS} nodes (${HOSTS} hosts x ${DBS} dbs), ${JOBS} jobs, no workers; DynamoDB Local`);
    await putConfig(ctx, config(), null, nowMs);
    await round(warm, "first round (nodes refresh)");
    await round(warm, "quiet round");

    console.log(
      `seeding ${SMALL} finished tasks: ${(await seed(ctx, 0, SMALL, nowMs / 1000)).toFixed(1)} s, ${load()}`,
    );
    await round(warm, `full round, ${SMALL} finished`);
    nowMs += 1000;
    const small = await round(warm, `idle round, ${SMALL} finished`);

    const rest = FINISHED - SMALL;
    console.log(
      `seeding ${rest} more finished tasks: ${(await seed(ctx, SMALL, rest, nowMs / 1000)).toFixed(1)} s, ${load()}`,
    );
    // The warm process checkpoints its state in this round, as it would within 3 hours.
    delete warm.checkpointAtMs;
    await round(warm, `full round, ${FINISHED} finished (checkpoint)`);
    const checkpointBytes = checkpoints.body?.length ?? 0;
    nowMs += 1000;
    const large = await round(warm, `idle round, ${FINISHED} finished`);
    // A change (as a status would make) so a fresh process must load the state: a full round.
    await bumpChangeSequence(ctx);
    const cold = await round({ ...deps(), checkpoints }, `cold start from the checkpoint, ${FINISHED} finished`);
    await bumpChangeSequence(ctx);
    const full = await round(deps(), `cold start reading every item, ${FINISHED} finished`);
    console.log(
      `scale: cold-start load of ${FINISHED} finished tasks over ${NODES} nodes x ${JOBS} jobs: ` +
        `${cold.wallSec.toFixed(1)} s wall, ${cold.readUnits.toFixed(0)} read units from a checkpoint of ` +
        `${(checkpointBytes / 1024 / 1024).toFixed(1)} MB (${cold.idle ? "idle" : "full round"}); reading every item instead: ` +
        `${full.wallSec.toFixed(1)} s, ${full.readUnits.toFixed(0)} read units`,
    );

    console.log(
      `seeding ${CHANGED} changed tasks: ${(await seed(ctx, FINISHED, CHANGED, nowMs / 1000)).toFixed(1)} s, ${load()}`,
    );
    nowMs += 1000;
    const percent = `${+((CHANGED / (NODES * JOBS)) * 100).toPrecision(2)}%`;
    const busy = await round(warm, `warm round, ${percent} changed`);
    console.log(
      `peak JS heap during the rounds: ${mb(peakHeap)} (goal <= 1024 MB); ` +
        `outside the heap (typed arrays, Buffers): ${mb(peakOutside)}`,
    );
    const ratio = large.readUnits / small.readUnits;
    console.log(
      `scale: idle-round read units at ${FINISHED >= 1_000_000 ? `${FINISHED / 1_000_000}M` : FINISHED} vs 10k finished tasks: ratio ${ratio.toFixed(2)} (goal <= 1.5)`,
    );
    console.log(
      `scale: round over ${NODES >= 1_000_000 ? `${NODES / 1_000_000}M` : NODES} nodes x ${JOBS} jobs, ${percent} changed: ` +
        `${busy.wallSec.toFixed(2)} s wall, ${busy.readUnits.toFixed(0)} read units`,
    );
  } finally {
    aws.destroy();
    await emulators.stop();
  }
}

void main();
