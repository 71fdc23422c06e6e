// Cost benchmark (`npm run bench:cost [-- --tasks 200]`): runs N short tasks end to end on a local
// deployment (the emulators, rounds, status ingestion, a real worker running the demo task, S3
// logs), counts every AWS request they cause with a client middleware (bench/meter.ts), and prices
// the counts at AWS's us-east-1 list prices (PRICES, one table with its date), extrapolated to 1M
// tasks. Lambda invocations are counted as they would happen on AWS: one per round, one per
// status-ingestion batch (a receive that returned messages), one API call for the config.
// Polling that costs by the hour rather than per task (workers' empty long polls, Lambda's
// pollers on the status queue, the backstop schedule) is priced per day, together with the
// rounds of a deployment holding 1M finished tasks that nothing changes: a backstop tick a minute
// that stops at the idle check, the safety round every 30 minutes, the checkpoint every 3 hours
// and the cold starts that load it. The bench runs those rounds itself on a client of its own
// before and after the run, and extrapolates their read units and duration linearly in the
// finished tasks. The worker flushes logs every 5 s, as workers do unless told otherwise.
// Not a gate: exits 0 whatever the figure (the README's bench section says why).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeAwsClients } from "../lib/aws";
import { startLocalDeployment, type LocalDeployment } from "../lib/local/deployment";
import { deploymentNodeSources } from "../lib/nodes/deployment-sources";
import { CHECKPOINT_EVERY_MS, s3CheckpointStore } from "../lib/round/checkpoint";
import { DEFAULT_MAX_IDLE_MS } from "../lib/round/idle-round";
import { runRounds, type RoundDeps, type RoundReport } from "../lib/round/run-round";
import { writeCheckpointIfDue } from "../lib/round/task-cache";
import { sqsRoundWaker } from "../lib/round/wake-sqs";
import { bumpChangeSequence } from "../lib/store/change-sequence";
import { getCurrentConfigVersion, putConfig } from "../lib/store/config-store";
import type { StoreContext } from "../lib/store/context";
import { meterRequests } from "../test/helpers/request-meter";
import type { WorkerEvent } from "../lib/worker/daemon";
import { meterClients, type Meter, type MeterCounts } from "./meter";

/**
 * AWS list prices, us-east-1, on-demand, USD, as published on 2025-01-15 (DynamoDB's on-demand
 * prices are those of the November 2024 cut; SQS and Lambda after their free tiers; Lambda on arm64).
 */
export const PRICES = {
  date: "2025-01-15",
  dynamodbWriteUnit: 0.625 / 1e6,
  dynamodbReadUnit: 0.125 / 1e6,
  sqsRequest: 0.4 / 1e6,
  s3Put: 0.005 / 1000,
  s3Get: 0.0004 / 1000,
  lambdaRequest: 0.2 / 1e6,
  lambdaGbSecondArm: 0.0000133334,
  apiGatewayRestRequest: 3.5 / 1e6,
  /** EventBridge: priced as a custom event to stay on the safe side. */
  eventBridgeEvent: 1 / 1e6,
} as const;

/** Function sizes of the stack (infra/sous-scheduler.ts). */
const ROUND_GB = 1;
const INGEST_GB = 0.5;
/**
 * DynamoDB's typical request latency on AWS (single-digit ms). Rounds wait on requests most of
 * their time; on the emulators under load a request takes far longer, so the measured round time
 * is scaled by this over the measured mean latency (never up).
 */
const AWS_DYNAMODB_LATENCY_MS = 10;
/** Status ingestion's time per batch is not measured here; assumed. */
const INGEST_BATCH_SEC = 0.1;
/** Lambda's SQS pollers: about 5 long polls of 20 s in flight on an idle queue. */
const ESM_RECEIVES_PER_DAY = 5 * 3 * 60 * 24;
const BACKSTOP_ROUNDS_PER_DAY = 24 * 60;
/**
 * New round functions a day. Lambda keeps a function that runs every minute warm but replaces its
 * environments from time to time, unannounced; one an hour is assumed, on the high side.
 */
const COLD_STARTS_PER_DAY = 24;
/** A worker's empty long polls on AWS (receiveWaitSec 20). */
const WORKER_RECEIVES_PER_DAY = 3 * 60 * 24;
const MILLION = 1e6;
/** Workers flush task output every 5 s unless told otherwise (LogWriter's default); `sous local` uses 1 s. */
const LOG_FLUSH_MS = 5_000;

const argValue = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  const value = i >= 0 ? Number(process.argv[i + 1]) : NaN;
  return Number.isInteger(value) && value > 0 ? value : fallback;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** N shards from `range_label`, so the config stays small whatever N (its size is not a per-task cost). */
function configFor(tasks: number, enabled: boolean): Record<string, unknown> {
  return {
    bistro_settings: {
      enabled: true,
      nodes: {
        levels: ["shard"],
        node_sources: [{ source: "range_label", prefs: { parent_level: "instance", start: 1, end: tasks } }],
      },
      resources: { instance: { concurrency: { default: 1, limit: 1000 } } },
    },
    "bistro_job->cost": { enabled, owner: "bench" },
  };
}

interface Priced {
  label: string;
  count: number;
  dollars: number;
}

function price(counts: MeterCounts, meter: Meter, lambda: { invocations: number; gbSeconds: number }, api: number) {
  const sqs = meter.total("sqs");
  const s3Put = meter.total("s3", ["PutObject", "UploadPart", "CreateMultipartUpload", "CompleteMultipartUpload"]);
  const s3Get = meter.total("s3", ["GetObject", "HeadObject", "ListObjectsV2"]);
  const lines: Priced[] = [
    { label: "DynamoDB write units", count: counts.writeUnits, dollars: counts.writeUnits * PRICES.dynamodbWriteUnit },
    { label: "DynamoDB read units", count: counts.readUnits, dollars: counts.readUnits * PRICES.dynamodbReadUnit },
    { label: "SQS requests", count: sqs, dollars: sqs * PRICES.sqsRequest },
    { label: "S3 PUTs", count: s3Put, dollars: s3Put * PRICES.s3Put },
    { label: "S3 GETs", count: s3Get, dollars: s3Get * PRICES.s3Get },
    { label: "Lambda invocations", count: lambda.invocations, dollars: lambda.invocations * PRICES.lambdaRequest },
    { label: "Lambda GB-seconds", count: lambda.gbSeconds, dollars: lambda.gbSeconds * PRICES.lambdaGbSecondArm },
    { label: "API Gateway requests", count: api, dollars: api * PRICES.apiGatewayRestRequest },
  ];
  return lines;
}

/** One round the bench ran itself: what it read and wrote, and whether it stopped at the idle check. */
interface MeasuredRound {
  readUnits: number;
  writeUnits: number;
  durationMs: number;
  idle: boolean;
}

/**
 * Runs rounds against the deployment's table on a client of its own, so the meter sees that
 * round's requests and nothing else (the deployment's round loop, ingestion and workers keep their
 * own clients), keeping a warm task state between them as a warm round function does. `idle` is
 * the check a backstop tick makes when nothing changed; `full` is the safety round (ADR 0003) that
 * runs every `DEFAULT_MAX_IDLE_MS`, forced here by a change-sequence bump (if the deployment's own
 * loop consumes the bump first, the bench bumps again). `checkpoint` writes the warm state as a
 * checkpoint (timed: its encoding), and `cold` runs a full round in a new process's place: it
 * loads that checkpoint (one S3 GET) and the entries since.
 */
function roundProbe(deployment: LocalDeployment) {
  const aws = makeAwsClients({ endpoints: deployment.endpoints });
  const meter = meterRequests(aws.doc);
  const store: StoreContext = { ...deployment.store, doc: aws.doc };
  const checkpoints = s3CheckpointStore(() => aws.s3, deployment.bucket);
  let idle = false;
  let checkpointsWritten = 0;
  const depsFor = (): RoundDeps => ({
    store,
    nodeSources: deploymentNodeSources({ store }),
    sqs: aws.sqs,
    clock: Date.now,
    rng: Math.random,
    owner: `bench-cost-${process.pid}`,
    instanceName: deployment.instanceName,
    waker: sqsRoundWaker(aws.sqs, deployment.statusQueueUrl),
    checkpoints,
    log: (event) => {
      if (event.event === "round-idle") idle = true;
      if (event.event === "checkpoint-written") checkpointsWritten += 1;
    },
  });
  const warm = depsFor();
  const once = async (deps: RoundDeps): Promise<MeasuredRound> => {
    idle = false;
    meter.reset();
    const started = performance.now();
    await runRounds(deps, 1);
    return {
      readUnits: meter.readUnits(),
      writeUnits: meter.writeUnits(),
      durationMs: performance.now() - started,
      idle,
    };
  };
  const full = async (deps: () => RoundDeps): Promise<MeasuredRound> => {
    for (let attempt = 0; attempt < 20; attempt++) {
      await bumpChangeSequence(store);
      const round = await once(deps());
      if (!round.idle && round.readUnits > 0) return round;
      await sleep(500); // the deployment's loop ran first, or held the lease
    }
    throw new Error("bench:cost: no full round in 20 tries");
  };
  return {
    async idle(): Promise<MeasuredRound> {
      for (let attempt = 0; attempt < 20; attempt++) {
        const round = await once(warm);
        if (round.idle) return round;
        await sleep(500); // something changed (a late end, a heartbeat list): let it settle
      }
      throw new Error("bench:cost: no idle round in 20 tries");
    },
    /** A safety round of a warm round function, once it has caught up with every change. */
    async full(): Promise<MeasuredRound> {
      await full(() => warm);
      return full(() => warm);
    },
    /** Writes a checkpoint of the warm state now; returns the milliseconds it took. */
    async checkpoint(): Promise<number> {
      delete warm.checkpointAtMs;
      const before = checkpointsWritten;
      const started = performance.now();
      await writeCheckpointIfDue(warm, Date.now());
      if (checkpointsWritten === before) throw new Error("bench:cost: the checkpoint was not written");
      return performance.now() - started;
    },
    /** A safety round of a cold round function: from the checkpoint, not the warm state. */
    cold: () => full(depsFor),
    destroy: () => {
      aws.destroy();
    },
  };
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const tasks = argValue("--tasks", 200);
  const dataDir = mkdtempSync(join(tmpdir(), "sous-bench-cost-"));
  const reports: RoundReport[] = [];
  let ended = 0;
  const deployment = await startLocalDeployment({
    name: `bench-cost-${process.pid}`,
    workers: 1,
    workerCommand: join(__dirname, "..", "events", "bistro", "demo_bistro_task.sh"),
    dataDir,
    port: 0,
    config: configFor(tasks, false),
    workerResources: { concurrency: 1000 },
    logFlushIntervalMs: LOG_FLUSH_MS,
    onRound: (report) => reports.push(report),
    onWorkerEvent: (_worker: string, event: WorkerEvent) => {
      if (event.type === "task_ended") ended++;
    },
    onError: (where, error) => {
      console.error(`bench:cost: ${where}:`, error);
    },
  });
  try {
    const statusQueueUrl = deployment.statusQueueUrl;
    const meter = meterClients(
      (["dynamodb", "sqs", "s3"] as const).map((service) => ({
        service,
        client: deployment.aws[service] as never,
      })),
      (service, command, input) =>
        service === "sqs" && command === "ReceiveMessageCommand" && input.QueueUrl === statusQueueUrl
          ? "status"
          : undefined,
    );
    await until(() => reports.length > 0, "the first round", 60_000);
    const probe = roundProbe(deployment);
    const idleBefore = await probe.idle();
    const fullBefore = await probe.full();
    const encodeBeforeMs = await probe.checkpoint();
    const coldBefore = await probe.cold();

    // The run: one config write (the API's PUT /config) enables the job on N nodes.
    meter.reset();
    const roundsBefore = reports.length;
    const started = performance.now();
    await putConfig(
      deployment.store,
      configFor(tasks, true),
      await getCurrentConfigVersion(deployment.store),
      Date.now(),
    );
    await deployment.poke();
    await until(() => ended >= tasks, `${tasks} tasks to end`, 600_000);
    await until(
      () => {
        const last = reports.at(-1);
        return reports.length > roundsBefore && last?.backlog.running === 0 && last.backlog.runnablePending === 0;
      },
      "the rounds to record every end",
      120_000,
    );
    await sleep(LOG_FLUSH_MS + 1_000); // the last log segments
    const wallSec = (performance.now() - started) / 1000;
    const runCounts = meter.counts();
    const runRequests = new Map(runCounts.requests);
    const rounds = reports.slice(roundsBefore);
    const ingestBatches = runRequests.get("sqs ReceiveMessage status") ?? 0;
    const latencyMs = meter.meanLatencyMs("dynamodb");
    const toAws = Math.min(1, AWS_DYNAMODB_LATENCY_MS / Math.max(latencyMs, 1e-9));
    const roundSec = rounds.reduce((n, r) => n + (r.durationMs ?? 0), 0) / 1000;
    const lambda = {
      invocations: rounds.length + ingestBatches + 1,
      gbSeconds: roundSec * toAws * ROUND_GB + ingestBatches * INGEST_BATCH_SEC * INGEST_GB,
    };
    const lines = price(runCounts, meter, lambda, 1);
    const idleAfter = await probe.idle();
    const fullAfter = await probe.full();
    const encodeAfterMs = await probe.checkpoint();
    const coldAfter = await probe.cold();
    probe.destroy();

    console.log(
      `${tasks} tasks end to end on the emulators in ${wallSec.toFixed(1)} s: ${rounds.length} rounds, ` +
        `${ingestBatches} status batches`,
    );
    console.log(
      `round time ${roundSec.toFixed(1)} s on the emulators (DynamoDB mean latency ${latencyMs.toFixed(1)} ms); ` +
        `priced at ${AWS_DYNAMODB_LATENCY_MS} ms per request: ${(roundSec * toAws).toFixed(2)} s`,
    );
    console.log(`requests (${[...runRequests].map(([k, v]) => `${k} ${v}`).join(", ")})`);
    const unitText = [...runCounts.units]
      .filter(([, u]) => u.read + u.write > 0)
      .sort((a, b) => b[1].write + b[1].read - (a[1].write + a[1].read))
      .map(([k, u]) => `${k.replace(/^dynamodb /, "")} ${u.write.toFixed(0)} WU ${u.read.toFixed(0)} RU`)
      .join(", ");
    console.log(`DynamoDB units by request (${unitText})`);
    console.log(`prices: AWS us-east-1 list prices of ${PRICES.date} (bench/cost.ts PRICES)`);
    console.log("per 1M tasks:");
    let perMillion = 0;
    for (const line of lines) {
      const dollars = (line.dollars / tasks) * MILLION;
      perMillion += dollars;
      console.log(
        `  ${line.label.padEnd(22)} ${((line.count / tasks) * MILLION).toFixed(0).padStart(12)}  $${dollars.toFixed(3)}`,
      );
    }

    // Idle: a backstop tick a minute that stops at the idle check; a safety round every
    // DEFAULT_MAX_IDLE_MS in a warm round function; a checkpoint every CHECKPOINT_EVERY_MS; and
    // COLD_STARTS_PER_DAY safety rounds in a new function, which loads that checkpoint. Each a fixed
    // part plus a part per finished task, from the rounds measured before and after the run,
    // extrapolated to 1M finished tasks. Round time waiting on DynamoDB is priced at AWS's latency;
    // a cold start's and a checkpoint's (mostly decoding and encoding) as measured.
    const perTask = (a: number, b: number) => Math.max(0, (b - a) / tasks);
    const at1M = (a: number, b: number) => a + perTask(a, b) * MILLION;
    const roundDollars = (before: MeasuredRound, after: MeasuredRound, timeScale: number) => {
      const read = at1M(before.readUnits, after.readUnits);
      const write = at1M(before.writeUnits, after.writeUnits);
      const sec = (at1M(before.durationMs, after.durationMs) / 1000) * timeScale;
      const dollars =
        read * PRICES.dynamodbReadUnit +
        write * PRICES.dynamodbWriteUnit +
        PRICES.lambdaRequest +
        sec * ROUND_GB * PRICES.lambdaGbSecondArm;
      return { read, write, sec, dollars };
    };
    const idle = roundDollars(idleBefore, idleAfter, toAws);
    const full = roundDollars(fullBefore, fullAfter, toAws);
    const cold = roundDollars(coldBefore, coldAfter, 1);
    const coldDollars = cold.dollars + PRICES.s3Get;
    const encodeSec = at1M(encodeBeforeMs, encodeAfterMs) / 1000;
    const checkpointDollars = PRICES.s3Put + encodeSec * ROUND_GB * PRICES.lambdaGbSecondArm;
    const day = 24 * 3_600_000;
    const safetyRoundsPerDay = day / DEFAULT_MAX_IDLE_MS;
    const checkpointsPerDay = day / CHECKPOINT_EVERY_MS;
    const pollingDollars = ESM_RECEIVES_PER_DAY * PRICES.sqsRequest;
    const idlePerDay =
      BACKSTOP_ROUNDS_PER_DAY * (idle.dollars + PRICES.eventBridgeEvent) +
      safetyRoundsPerDay * full.dollars +
      COLD_STARTS_PER_DAY * coldDollars +
      checkpointsPerDay * checkpointDollars +
      pollingDollars;
    const units = (r: MeasuredRound) => `${r.readUnits.toFixed(1)} read / ${r.writeUnits.toFixed(1)} write units`;
    console.log(
      `idle round: ${units(idleBefore)} with 0 finished tasks, ${units(idleAfter)} with ${tasks}; ` +
        `warm safety round: ${units(fullBefore)}, ${units(fullAfter)}; ` +
        `cold safety round: ${units(coldBefore)}, ${units(coldAfter)}`,
    );
    console.log(
      `idle at 1M finished tasks: ${idle.read.toFixed(0)} read units per idle round (${BACKSTOP_ROUNDS_PER_DAY} a day), ` +
        `${full.read.toFixed(0)} per warm safety round (${safetyRoundsPerDay} a day, ${full.sec.toFixed(1)} s), ` +
        `${cold.read.toFixed(0)} and one S3 GET per cold start (${COLD_STARTS_PER_DAY} a day assumed, ` +
        `${cold.sec.toFixed(1)} s), a checkpoint ${checkpointsPerDay} times a day (${encodeSec.toFixed(1)} s); ` +
        `with the status queue's pollers: $${idlePerDay.toFixed(2)} per day`,
    );
    console.log(
      `per worker: $${(WORKER_RECEIVES_PER_DAY * PRICES.sqsRequest).toFixed(4)} per day of empty long polls (20 s)`,
    );
    console.log(`cost: $${perMillion.toFixed(2)} per 1M tasks (goal <= 3.00)`);
  } finally {
    await deployment.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
