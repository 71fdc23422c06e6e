// Benchmark of the worker daemon on the emulators: 1,000 short tasks (Bistro's demo task) sent
// as start orders in batches, as a round would. Prints the median and p95 time from an order
// being sent to its task's process running, the S3 and SQS requests per task (goals: at most
// 0.1 S3 PUT and at most 1 SQS request per task, from batching), and log throughput to S3 for
// one task printing 64 MB (goal >= 20 MB/s), next to its baselines measured in the same run (the
// same output piped to /dev/null; the S3 emulator taking the same bytes as raw PUTs) and the
// worker's peak memory and the CPU time the worker and the emulator host spent meanwhile (CPU time
// per byte is what a loaded machine changes least). After the timing it checks that no line was
// lost and reads the task's last lines back through the log reader.
//   npm run bench:worker [-- --tasks 1000] [-- --logs-only]
// The worker runs in this process; to profile it:
//   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/worker.ts --logs-only
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { CreateQueueCommand, ReceiveMessageCommand, DeleteMessageBatchCommand } from "@aws-sdk/client-sqs";
import type { InitializeMiddleware, MetadataBearer } from "@smithy/types";
import { makeAwsClients, type AwsClients } from "../lib/aws";
import type { StartMessage } from "../lib/dispatch/messages";
import { sendBatched } from "../lib/dispatch/sqs";
import { startEmulators } from "../lib/local/emulators";
import { readLogs } from "../lib/logs/reader";
import { LogWriter } from "../lib/logs/writer";
import { ensureTable } from "../lib/store/table";
import { InProcessControlPlane } from "../lib/worker/control-plane";
import { startWorker, type WorkerEvent } from "../lib/worker/daemon";

const tasks = Number(process.argv[process.argv.indexOf("--tasks") + 1] || 1000) || 1000;
const logsOnly = process.argv.includes("--logs-only");
const LOUD_MB = 64;
const LOUD_LINE_CHARS = 99;
const LOUD_OUTPUT = `head -c ${LOUD_MB * 1024 * 1024} /dev/zero | tr "\\0" x | fold -w ${LOUD_LINE_CHARS}`;
const DEMO = join(__dirname, "..", "events", "bistro", "demo_bistro_task.sh");

/** Counts every request each client sends, by command name. */
function countRequests(aws: AwsClients): Map<string, number> {
  const counts = new Map<string, number>();
  const counter: InitializeMiddleware<object, MetadataBearer> = (next, context) => (args) => {
    const name = `${context.clientName ?? "?"}.${context.commandName ?? "?"}`;
    counts.set(name, (counts.get(name) ?? 0) + 1);
    return next(args);
  };
  const options = { step: "initialize", name: "sousRequestCounter" } as const;
  aws.sqs.middlewareStack.add(counter as never, options);
  aws.s3.middlewareStack.add(counter as never, options);
  aws.dynamodb.middlewareStack.add(counter as never, options);
  return counts;
}

function startOrder(i: number, attempt: string): StartMessage {
  return {
    type: "start",
    job: "bench",
    node: `shard-${i}`,
    attempt,
    token: `token-${attempt}`,
    command: [],
    taskJson: { id: "bench", config: {}, path_to_node: ["scheduler", `shard-${i}`], resources_by_node: {} },
    killRequest: { method: "term", killWaitMs: 0 },
    pollMs: 10,
    maxLogLinesPerPollInterval: 50,
  };
}

/** CPU seconds (user + system) a process has used so far, from /proc; NaN where there is none. */
function processCpuSeconds(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks; 100 a second on Linux
  } catch {
    return NaN;
  }
}

const ownCpuSeconds = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) * p)] ?? NaN;

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const emulators = await startEmulators();
  const aws = makeAwsClients({ endpoints: emulators.endpoints });
  const counts = countRequests(aws);
  const dir = mkdtempSync(join(tmpdir(), "sous-bench-worker-"));
  const tableName = "bench-worker";
  const bucket = "bench-worker-logs";
  await ensureTable(aws.dynamodb, tableName);
  await aws.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const { QueueUrl: statusQueue } = await aws.sqs.send(new CreateQueueCommand({ QueueName: "bench-status" }));
  const store = { doc: aws.doc, tableName };
  const logs = new LogWriter({ s3: aws.s3, doc: aws.doc, tableName, bucket, workerId: "bench-worker" });

  /** Fails the run unless every line of the loud task was stored and its last lines read back. */
  const checkLoudOutput = async (before: ReturnType<LogWriter["stats"]>): Promise<void> => {
    const after = logs.stats();
    const lost = after.linesLost - before.linesLost + after.droppedLines - before.droppedLines;
    const outputBytes = LOUD_MB * 1024 * 1024;
    const lineCount = Math.ceil(outputBytes / LOUD_LINE_CHARS);
    const lastLine = "x".repeat(outputBytes % LOUD_LINE_CHARS || LOUD_LINE_CHARS);
    const page = await readLogs(
      {
        s3: aws.s3,
        doc: aws.doc,
        tableName,
        bucket,
        attemptTokens: () => Promise.resolve(({ attempt }) => `token-${attempt}`),
      },
      { logType: "stdout", jobs: ["bench"], nodes: ["shard-0"], attempt: "loud", sort: "desc", limit: 2 },
    );
    const texts = page.lines.map((row) => row[3]);
    if (
      lost > 0 ||
      after.lines - before.lines < lineCount ||
      texts[0] !== lastLine ||
      texts[1] !== "x".repeat(LOUD_LINE_CHARS)
    ) {
      process.exitCode = 1;
      console.log(
        `loud task output NOT stored whole: ${lost} lines lost, last lines read back ${JSON.stringify(texts)}`,
      );
    }
  };

  const started = new Map<string, number>();
  const ended = new Set<string>();
  let allEnded: () => void = () => undefined;
  const onEvent = (event: WorkerEvent) => {
    if (event.type === "task_started") started.set(event.attempt, event.atMs);
    if (event.type === "task_ended") {
      ended.add(event.end.attempt);
      if (ended.size === tasks) allEnded();
    }
  };
  const worker = await startWorker(
    {
      controlPlane: new InProcessControlPlane({
        store,
        sqs: aws.sqs,
        queuePrefix: "bench",
        statusQueueUrl: statusQueue!,
        clock: Date.now,
      }),
      sqs: aws.sqs,
      logs,
      onEvent,
    },
    { id: "bench-worker", command: DEMO, dataDir: dir, receiveWaitSec: 1 },
  );
  const get = (name: string) => counts.get(name) ?? 0;
  try {
    if (!logsOnly) {
      // Short tasks: send as a round would (batches of 10), in waves of 100 to keep 2 cores usable.
      counts.clear();
      const sentAt = new Map<string, number>();
      const done = new Promise<void>((resolve) => (allEnded = resolve));
      const t0 = performance.now();
      for (let wave = 0; wave < tasks; wave += 100) {
        const bodies: string[] = [];
        for (let i = wave; i < Math.min(tasks, wave + 100); i++) {
          const attempt = `a${i}`;
          sentAt.set(attempt, Date.now());
          bodies.push(JSON.stringify(startOrder(i, attempt)));
        }
        await sendBatched(aws.sqs, worker.queueUrl, bodies);
        while (ended.size < Math.min(tasks, wave + 100) - 50) await new Promise((r) => setTimeout(r, 20));
      }
      await done;
      await logs.flush();
      await logs.uploadsSettled();
      const seconds = (performance.now() - t0) / 1000;
      const latencies = [...started].map(([attempt, atMs]) => atMs - (sentAt.get(attempt) ?? atMs));
      const workerSqs =
        get("SQSClient.ReceiveMessageCommand") +
        get("SQSClient.DeleteMessageBatchCommand") +
        get("SQSClient.SendMessageBatchCommand") -
        Math.ceil(tasks / 10);
      console.log(`${tasks} short tasks (Bistro's demo task) in ${seconds.toFixed(1)} s on one worker`);
      console.log(
        `${tasks} orders in waves of 100, sent -> task running (queueing included): median ${percentile(latencies, 0.5).toFixed(0)} ms, p95 ${percentile(latencies, 0.95).toFixed(0)} ms`,
      );
      const putsPerTask = get("S3Client.PutObjectCommand") / tasks;
      const sqsPerTask = workerSqs / tasks;
      if (putsPerTask > 0.1 || sqsPerTask > 1) process.exitCode = 1;
      console.log(
        `S3 PUTs per task: ${putsPerTask.toFixed(3)} (goal <= 0.1); ` +
          `log index writes per task: ${((get("DynamoDBClient.BatchWriteItemCommand") * 25) / tasks).toFixed(2)} items at most`,
      );
      console.log(
        `worker SQS requests per task: ${sqsPerTask.toFixed(3)} (goal <= 1): ` +
          `receive ${get("SQSClient.ReceiveMessageCommand")}, delete batches ${get("SQSClient.DeleteMessageBatchCommand")}, ` +
          `status batches ${get("SQSClient.SendMessageBatchCommand") - Math.ceil(tasks / 10)}`,
      );

      // Latency from arrival: one order at a time, so none waits behind another task.
      const single: number[] = [];
      for (let i = 0; i < 30; i++) {
        const attempt = `single-${i}`;
        const sent = Date.now();
        await sendBatched(aws.sqs, worker.queueUrl, [JSON.stringify(startOrder(tasks + i, attempt))]);
        while (!ended.has(attempt)) await new Promise((r) => setTimeout(r, 5));
        single.push((started.get(attempt) ?? sent) - sent);
      }
      console.log(
        `one order at a time, sent -> task running: median ${percentile(single, 0.5).toFixed(0)} ms, ` +
          `p95 ${percentile(single, 0.95).toFixed(0)} ms (includes the SQS round trip)`,
      );
    }
    // Log throughput: one task printing 64 MB in 100-byte lines, with Bistro's line quota off
    // (its default, 50 lines per 10 ms, caps a task at 5,000 lines/s by design).
    const loud = join(dir, "loud.sh");
    writeFileSync(loud, `#!/bin/bash\n${LOUD_OUTPUT}\necho done > "$2"\n`);
    chmodSync(loud, 0o755);
    counts.clear();
    ended.clear();
    const baselineStart = performance.now();
    spawnSync("/bin/bash", ["-c", `${LOUD_OUTPUT} > /dev/null`]);
    const baselineSeconds = (performance.now() - baselineStart) / 1000;
    // The emulator's own ceiling: the same bytes PUT as 2 MiB objects, 4 at a time, with no worker.
    const object = Buffer.alloc(2 * 1024 * 1024, "x");
    const putStart = performance.now();
    const putEmulatorCpu = processCpuSeconds(emulators.pid);
    for (let sent = 0; sent < LOUD_MB / 2; sent += 4) {
      await Promise.all(
        [0, 1, 2, 3].map((i) =>
          aws.s3.send(new PutObjectCommand({ Bucket: bucket, Key: `raw-put/${sent + i}`, Body: object })),
        ),
      );
    }
    const putSeconds = (performance.now() - putStart) / 1000;
    const putEmulatorCpuSeconds = processCpuSeconds(emulators.pid) - putEmulatorCpu;
    counts.clear();
    const statsBefore = logs.stats();
    const emulatorCpu = processCpuSeconds(emulators.pid);
    const workerCpu = ownCpuSeconds();
    let peakRss = process.memoryUsage.rss();
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 20);
    const t1 = performance.now();
    await sendBatched(aws.sqs, worker.queueUrl, [
      JSON.stringify({ ...startOrder(0, "loud"), command: [loud], maxLogLinesPerPollInterval: 0 }),
    ]);
    while (!ended.has("loud")) await new Promise((r) => setTimeout(r, 20));
    await logs.flush();
    await logs.uploadsSettled();
    const loudSeconds = (performance.now() - t1) / 1000;
    const workerCpuSeconds = ownCpuSeconds() - workerCpu;
    const emulatorCpuSeconds = processCpuSeconds(emulators.pid) - emulatorCpu;
    clearInterval(sampler);
    const throughput = LOUD_MB / loudSeconds;
    if (throughput < 20) process.exitCode = 1;
    await checkLoudOutput(statsBefore);
    console.log(
      `log throughput to S3: ${throughput.toFixed(1)} MB/s (goal >= 20; ${LOUD_MB} MB in ${loudSeconds.toFixed(1)} s, ` +
        `${get("S3Client.PutObjectCommand")} PUTs); baseline, the same output to /dev/null: ` +
        `${(LOUD_MB / baselineSeconds).toFixed(1)} MB/s (ratio ${(baselineSeconds / loudSeconds).toFixed(2)}); ` +
        `S3 emulator alone, the same bytes as raw 2 MiB PUTs: ${(LOUD_MB / putSeconds).toFixed(1)} MB/s ` +
        `(ratio ${(putSeconds / loudSeconds).toFixed(2)}); ` +
        `worker peak RSS ${(peakRss / 1024 / 1024).toFixed(0)} MB`,
    );
    console.log(
      `CPU time meanwhile: worker ${workerCpuSeconds.toFixed(2)} s, emulator host ${emulatorCpuSeconds.toFixed(2)} s ` +
        `(the raw PUTs: ${putEmulatorCpuSeconds.toFixed(2)} s); ${LOUD_MB} MB of output took ` +
        `${(logs.stats().s3PutBytes / 1024 / 1024).toFixed(1)} MB of segments`,
    );
  } finally {
    await worker.stop({ graceful: false });
    await logs.close();
    // Drain the status queue so nothing lingers in the emulator.
    await aws.sqs
      .send(new ReceiveMessageCommand({ QueueUrl: statusQueue, MaxNumberOfMessages: 10 }))
      .then(async (r) => {
        if (r.Messages?.length) {
          await aws.sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: statusQueue,
              Entries: r.Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
            }),
          );
        }
      });
    aws.destroy();
    await emulators.stop();
  }
}

void main();
