// Soak: N short tasks under data-side limits (instance, host, db, worker slots) on the emulators,
// with real worker processes and two competing round loops, while faults are injected: workers
// killed with SIGKILL mid-task, rounds crashing between commit and dispatch, a lease holder
// stalled past its lease, duplicated and reordered status storms, and dead-lettered ends. The
// invariants are checked from ground truth (each task process logs its own start and end):
// no limit over-subscribed at any instant, no task with two overlapping attempts, and every task
// ending done with its status recorded. The last line is the verdict; non-zero counts exit 1.
//   npm run bench:soak [-- --tasks 60]
// (A restart of DynamoDB Local is not injected: it runs in memory, so a restart loses the table.)
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { CreateQueueCommand, DeleteMessageBatchCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { makeAwsClients } from "../lib/aws";
import { sendBatched } from "../lib/dispatch/sqs";
import { emulatorEnvironment, startEmulators } from "../lib/local/emulators";
import { applyStatuses } from "../lib/round/apply-statuses";
import { runRounds, type RoundDeps } from "../lib/round/run-round";
import { putConfig } from "../lib/store/config-store";
import { ensureTable } from "../lib/store/table";
import { readTasks } from "../lib/store/tasks";
import { doubleStarts, overSubscriptions, readIntervals, type LedgerLimits } from "./soak/ledger";
import { SOAK_TIMINGS } from "./soak/timings";
import { crashBetweenCommitAndDispatch, InjectedCrash, statusStorm } from "../test/helpers/faults";

const argValue = (name: string) =>
  process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined;
const HOSTS = 4;
const JOBS = ["alpha", "beta", "gamma"];
const DBS_PER_HOST = Math.max(1, Math.round(Number(argValue("--tasks") ?? 60) / (HOSTS * JOBS.length)));
const TASKS = HOSTS * DBS_PER_HOST * JOBS.length;
const LIMITS: LedgerLimits = { instance: 8, host: 2, db: 1, workerSlots: 4 };
const DEADLINE_MS = Number(argValue("--deadline-sec") ?? 300) * 1000;
const LEASE_TTL_MS = 2000;
/** The worker daemon in a process of its own (shared with the tests that kill workers). */
const WORKER_PROCESS = join(__dirname, "..", "test", "fixtures", "worker-process.ts");

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function config(): Record<string, unknown> {
  return {
    bistro_settings: {
      enabled: true,
      backoff: [1, 2, "repeat"],
      nodes: {
        levels: ["host", "db"],
        node_sources: [
          { source: "manual", prefs: Object.fromEntries(Array.from({ length: HOSTS }, (_, i) => [`h${i + 1}`, []])) },
          {
            source: "range_label",
            prefs: { parent_level: "host", format: "{parent}.db{i}", start: 1, end: DBS_PER_HOST },
          },
        ],
      },
      resources: {
        instance: { concurrency: { limit: LIMITS.instance, default: 1 } },
        host: { host_concurrency: { limit: LIMITS.host, default: 1 } },
        db: { db_concurrency: { limit: LIMITS.db, default: 1 } },
        worker: { slots: { limit: LIMITS.workerSlots, default: 1 } },
      },
    },
    ...Object.fromEntries(JOBS.map((job) => [`bistro_job->${job}`, { owner: "soak" }])),
  };
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const emulators = process.env.AWS_ENDPOINT_URL_DYNAMODB ? undefined : await startEmulators({ timeoutMs: 120_000 });
  if (emulators) Object.assign(process.env, emulatorEnvironment(emulators.endpoints));
  const aws = makeAwsClients();
  const dir = mkdtempSync(join(tmpdir(), "sous-soak-"));
  const ledger = join(dir, "ledger");
  writeFileSync(ledger, "");
  const prefix = `soak-${randomUUID().slice(0, 8)}`;
  const store = { doc: aws.doc, tableName: prefix };
  await ensureTable(aws.dynamodb, prefix);
  const { QueueUrl: statusQueue } = await aws.sqs.send(new CreateQueueCommand({ QueueName: `${prefix}-status` }));
  await putConfig(store, config(), null, Date.now());

  // Every decision of the rounds, the status ingestion and the workers, for reading after a failure.
  const tracePath = join(dir, "trace.jsonl");
  const trace = (source: string, event: unknown) => {
    appendFileSync(tracePath, `${JSON.stringify({ atMs: Date.now(), source, event })}\n`);
  };
  console.log(`soak: ledger and trace in ${dir}`);
  let faults = 0;
  const note = (what: string) => {
    trace("soak", { fault: what });
    faults++;
    if (process.env.SOAK_VERBOSE) console.log(`fault ${faults}: ${what}`);
  };
  const workers = new Map<string, ChildProcess>();
  const killedAtMs = new Map<string, number>();
  const spawnWorker = async (id: string) => {
    const child = spawn(process.execPath, ["--import", "tsx", WORKER_PROCESS], {
      env: {
        ...process.env,
        SOUS_TEST_TABLE: prefix,
        SOUS_TEST_QUEUE_PREFIX: prefix,
        SOUS_TEST_STATUS_QUEUE: statusQueue,
        SOUS_TEST_WORKER_ID: id,
        SOUS_TEST_COMMAND: join(__dirname, "soak", "task.sh"),
        SOUS_TEST_DATA_DIR: join(dir, id),
        SOUS_TEST_TIMINGS: JSON.stringify(SOAK_TIMINGS),
        SOUS_TEST_SLOTS: String(LIMITS.workerSlots),
        SOUS_TEST_END_BATCH_MS: "20",
        SOAK_LEDGER: ledger,
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    workers.set(id, child);
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout }).on("line", (line) => {
        trace(id, line);
        if (line.includes('"type":"registered"')) resolve();
      });
      child.once("exit", () => {
        reject(new Error(`worker ${id} exited before registering`));
      });
    });
  };
  await Promise.all(["w1", "w2", "w3"].map(spawnWorker));

  let finished = false;
  // Round faults, planned by round count: crashes after the commit, stalls past the lease.
  let rounds = 0;
  const roundDeps = (owner: string): RoundDeps => ({
    store,
    sqs: aws.sqs,
    clock: Date.now,
    rng: Math.random,
    owner,
    instanceName: "scheduler",
    timings: SOAK_TIMINGS,
    leaseTtlMs: LEASE_TTL_MS,
    unknownAttemptGraceMs: 3000,
    log: (event) => {
      trace(owner, event);
    },
    onRound: (report) => {
      trace(owner, {
        report: {
          round: report.round,
          started: report.started,
          unknown: report.unknownAttempts,
          lost: report.lostWorkers,
          resent: report.resent,
          refused: report.refused,
          repaired: report.repairedCounters,
        },
      });
      if (report.unknownAttempts.length > 0 && process.env.SOAK_VERBOSE) {
        console.log(`round ${report.round} ended unknown attempts: ${JSON.stringify(report.unknownAttempts)}`);
      }
      if (report.lostWorkers.length > 0 && process.env.SOAK_VERBOSE) {
        console.log(`round ${report.round} lost workers: ${report.lostWorkers.join(", ")}`);
      }
    },
    beforeCommit: async (plan) => {
      if (plan.starts.length > 0 && ++rounds % 9 === 4) {
        note(`round of ${owner} stalls past its lease with ${plan.starts.length} starts planned`);
        await sleep(LEASE_TTL_MS + 1000);
      }
    },
    send: crashBetweenCommitAndDispatch(
      (queueUrl, bodies) => sendBatched(aws.sqs, queueUrl, bodies),
      () => {
        const crash = rounds % 7 === 2 && Math.random() < 0.5;
        if (crash) note(`round of ${owner} crashes between commit and dispatch`);
        return crash;
      },
    ),
  });
  const roundLoop = async (owner: string) => {
    const deps = roundDeps(owner);
    while (!finished) {
      try {
        await runRounds(deps, 3);
      } catch (error) {
        // A failed round is retried by the next one, as the scheduled Lambda retries (the
        // invariants below are what must hold whatever rounds fail).
        if (process.env.SOAK_VERBOSE && !(error instanceof InjectedCrash)) {
          console.log(`round of ${owner} failed: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      await sleep(100);
    }
  };

  // Status ingestion with storms (duplicates, reordering, old messages again) and dead letters.
  const delivered: string[] = [];
  let deadLettered = 0;
  const statusLoop = async () => {
    while (!finished) {
      const { Messages = [] } = await aws.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: statusQueue, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      if (Messages.length === 0) continue;
      let bodies = Messages.map((m) => m.Body ?? "");
      if (deadLettered < 6 && Math.random() < 0.15) {
        deadLettered++;
        note("a status message is dead-lettered");
        bodies = bodies.slice(1);
      }
      if (Math.random() < 0.4) {
        note("a status storm: duplicates, reordering, stale messages");
        bodies = statusStorm(bodies, delivered, Math.random);
      }
      const result = await applyStatuses(
        {
          store,
          clock: Date.now,
          log: (event) => {
            trace("status", event);
          },
        },
        bodies.map((body, i) => ({ id: String(i), body })),
      );
      if (result.failed.length > 0) {
        // As the Lambda's partial batch failure does: the messages come back and are applied again.
        if (process.env.SOAK_VERBOSE) console.log(`status batch failed: ${JSON.stringify(result.failed)}`);
        continue;
      }
      delivered.push(...bodies);
      await aws.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: statusQueue,
          Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
        }),
      );
    }
  };

  // Workers killed with SIGKILL mid-task, each replaced by a new worker.
  const killLoop = async () => {
    for (const [afterMs, victim, replacement] of [
      [4000, "w2", "w4"],
      [12000, "w3", "w5"],
    ] as const) {
      await sleep(afterMs);
      if (finished) return;
      killedAtMs.set(victim, Date.now());
      workers.get(victim)?.kill("SIGKILL");
      note(`worker ${victim} killed with SIGKILL`);
      await spawnWorker(replacement);
    }
  };

  const startedAt = Date.now();
  let done = 0;
  const loops = Promise.all([roundLoop("round-a"), roundLoop("round-b"), statusLoop(), killLoop()]);
  loops.catch(() => {
    finished = true;
  });
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by the loops above
  while (!finished && Date.now() - startedAt < DEADLINE_MS) {
    await sleep(1000);
    const tasks = await readTasks(store, JOBS);
    done = tasks.filter((t) => t.state === "done").length;
    if (done === TASKS) break;
  }
  finished = true;
  await loops;
  const endMs = Date.now();
  for (const child of workers.values()) child.kill("SIGKILL");
  const intervals = readIntervals(readFileSync(ledger, "utf8"), killedAtMs, endMs);
  const explain = (what: string) => {
    console.log(`soak: ${what}`);
  };
  const over = overSubscriptions(intervals, LIMITS, explain);
  const doubles = doubleStarts(intervals, explain);
  const lost = TASKS - done;
  console.log(`soak: ${intervals.length} attempts ran in ${((endMs - startedAt) / 1000).toFixed(1)} s`);
  await emulators?.stop();
  console.log(
    `soak: ${TASKS} tasks, ${faults} faults injected, over-subscriptions ${over}, double starts ${doubles}, lost ${lost}`,
  );
  process.exitCode = over + doubles + lost === 0 ? 0 : 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
