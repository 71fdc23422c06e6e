// Benchmark: submit-to-running latency with `sous local`. Jobs are submitted through the API
// (PUT /jobs/{name}) one at a time, and the time until the worker starts the job's task is
// measured, once with pokes (a submission starts a round at once) and once with the timer only
// (rounds every idle_wait, Bistro's way), in the same run. Goal: p50 under 300 ms with pokes.
//   npm run bench:latency [-- --jobs 20]
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmulators, emulatorEnvironment } from "../lib/local/emulators";
import { startLocalDeployment } from "../lib/local/deployment";
import type { WorkerEvent } from "../lib/worker/daemon";

const jobs = Number(process.argv[process.argv.indexOf("--jobs") + 1] || 20) || 20;
const DEMO = join(__dirname, "..", "events", "bistro", "demo_bistro_task.sh");
const CONFIG = {
  bistro_settings: {
    enabled: true,
    idle_wait: 2,
    working_wait: 0.5,
    nodes: { levels: ["shard"], node_sources: [{ source: "manual", prefs: { shard1: [] } }] },
    resources: {},
  },
};

const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) * p)] ?? NaN;

async function measure(pokes: boolean): Promise<number[]> {
  const started = new Map<string, number>();
  const deployment = await startLocalDeployment({
    name: `latency-${pokes ? "poke" : "timer"}-${Date.now()}`,
    workers: 1,
    workerCommand: DEMO,
    dataDir: mkdtempSync(join(tmpdir(), "sous-latency-")),
    port: 0,
    config: CONFIG,
    pokes,
    maxRoundIntervalMs: 2000,
    onWorkerEvent: (_worker: string, event: WorkerEvent) => {
      if (event.type === "task_started" && !started.has(event.job)) started.set(event.job, Date.now());
    },
  });
  const latencies: number[] = [];
  try {
    for (let i = 0; i < jobs; i++) {
      const name = `job${i}`;
      const submitted = Date.now();
      const response = await fetch(`${deployment.apiUrl}/jobs/${name}`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ owner: "bench" }),
      });
      if (!response.ok) throw new Error(`PUT /jobs/${name}: ${response.status} ${await response.text()}`);
      while (!started.has(name)) await new Promise((r) => setTimeout(r, 2));
      latencies.push((started.get(name) ?? submitted) - submitted);
      // Spread submissions over the timer's cycle, as real submissions are.
      await new Promise((r) => setTimeout(r, 137 * (i % 7)));
    }
  } finally {
    await deployment.stop();
  }
  return latencies;
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const emulators = await startEmulators();
  Object.assign(process.env, emulatorEnvironment(emulators.endpoints));
  try {
    const poke = await measure(true);
    const timer = await measure(false);
    const row = (name: string, values: number[]) =>
      `${name.padEnd(10)} p50 ${percentile(values, 0.5).toFixed(0).padStart(5)} ms   p95 ${percentile(values, 0.95).toFixed(0).padStart(5)} ms`;
    console.log(`${jobs} jobs submitted one at a time through PUT /jobs/{name}; submit -> task running:`);
    console.log(row("pokes", poke));
    console.log(row("timer only", timer));
    const ratio = percentile(timer, 0.5) / percentile(poke, 0.5);
    console.log(
      `p50 ratio timer/poke: ${ratio.toFixed(1)}x; poke p50 under 300 ms: ${percentile(poke, 0.5) < 300 ? "yes" : "NO"}`,
    );
  } finally {
    await emulators.stop();
  }
}

void main();
