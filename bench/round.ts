// Round benchmark (`npm run bench:round`): plans rounds over 10 jobs x 10k and 10 jobs x 100k
// nodes (instance/region/rack/host/shard, data-side limits on every level, 50 workers) and
// prints candidates evaluated per second, peak heap, and the time ratio between the two sizes.
// Exits 1 when the ratio for 10x the candidates exceeds 12 (the round must stay near-linear).
import { WORKER_LEVEL, type Config } from "../lib/model/config";
import { StatusValues } from "../lib/model/status";
import { buildNodeTree, type NodeSpec, type NodeTree } from "../lib/model/tree";
import { planRound } from "../lib/scheduler/plan";
import type { RoundSnapshot, TaskRecord, WorkerSnapshot } from "../lib/scheduler/snapshot";
import { commitStarts, makeJob, makeSettings, seededRng } from "../test/helpers/model";

const JOBS = 10;
const WORKERS = 50;
const MAX_RATIO = 12;
const GOAL_PER_SEC = 1_000_000;
const NOW = 1_700_000_000;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const fastest = (xs: number[]) => Math.min(...xs);

/** shards -> hosts (10 shards each) -> racks (10 hosts) -> regions (10 racks). */
function buildTree(shards: number): NodeTree {
  const specs: NodeSpec[] = [];
  const hosts = Math.ceil(shards / 10);
  const racks = Math.ceil(hosts / 10);
  const regions = Math.ceil(racks / 10);
  for (let g = 0; g < regions; g++) specs.push({ name: `region${g}`, level: "region", parent: "instance" });
  for (let r = 0; r < racks; r++)
    specs.push({ name: `rack${r}`, level: "rack", parent: `region${Math.floor(r / 10)}` });
  for (let h = 0; h < hosts; h++) specs.push({ name: `host${h}`, level: "host", parent: `rack${Math.floor(h / 10)}` });
  for (let s = 0; s < shards; s++)
    specs.push({ name: `shard${s}`, level: "shard", parent: `host${Math.floor(s / 10)}` });
  return buildNodeTree(["region", "rack", "host", "shard"], "instance", specs);
}

function buildConfig(): Config {
  const settings = makeSettings({
    enabled: true,
    levels: ["region", "rack", "host", "shard"],
    resources: {
      instance: { global_concurrency: { limit: 2000, default: 1 } },
      region: { region_concurrency: { limit: 400, default: 1 } },
      rack: { rack_concurrency: { limit: 20, default: 1 } },
      host: { host_concurrency: { limit: 2, default: 1 } },
      shard: { shard_concurrency: { limit: 1, default: 1 } },
      [WORKER_LEVEL]: { slots: { limit: 40, default: 1, weight: 1 } },
    },
  });
  const jobs: Config["jobs"] = {};
  for (let j = 0; j < JOBS; j++) jobs[`job${j}`] = makeJob(`job${j}`, { priority: 1 + (j % 3) }, settings);
  return { settings, jobs, warnings: [] };
}

/** The round that fills an idle cluster (timed apart, warm): the cost of many starts. */
interface ColdRound {
  starts: number;
  seconds: number;
}

/**
 * A saturated steady state (the conservative case: every candidate is tried in vain): 20% of
 * the pairs are done or backing off, and a first round's starts fill the global limit.
 */
function buildSnapshot(shards: number): { snapshot: RoundSnapshot; cold: ColdRound } {
  const config = buildConfig();
  const tree = buildTree(shards);
  const workers: WorkerSnapshot[] = Array.from({ length: WORKERS }, (_, w) => ({
    id: `worker${String(w).padStart(2, "0")}`,
    hostname: `worker-host${w}`,
    state: "healthy",
    capacity: {},
  }));
  const rng = seededRng(42);
  const tasks: TaskRecord[] = [];
  for (let j = 0; j < JOBS; j++) {
    for (let s = 0; s < shards; s++) {
      const roll = rng();
      const status =
        roll < 0.15
          ? { bits: StatusValues.DONE, timeSec: NOW - 100, backoffSec: 0 }
          : { bits: StatusValues.ERROR_BACKOFF, timeSec: NOW - 10, backoffSec: 60 };
      if (roll < 0.2) tasks.push({ job: `job${j}`, node: `shard${s}`, status });
    }
  }
  const empty: RoundSnapshot = {
    config,
    tree,
    tasks,
    workers,
    orphanTimers: [],
    workerCursors: { all: null, byHost: {} },
  };
  planRound(empty, NOW, seededRng(1)); // warm-up (JIT, memoized name index)
  const times: number[] = [];
  let first = planRound(empty, NOW, rng);
  for (let r = 0; r < 3; r++) {
    const started = process.hrtime.bigint();
    first = planRound(empty, NOW, seededRng(42));
    times.push(Number(process.hrtime.bigint() - started) / 1e9);
  }
  const cold = { starts: first.starts.length, seconds: median(times) };
  return { snapshot: commitStarts(empty, first, NOW), cold };
}

interface Measurement {
  shards: number;
  candidates: number;
  /** Wall-clock seconds of each timed round. */
  wall: number[];
  /** CPU seconds (all threads of this process) of each timed round: not inflated by waiting for a core. */
  cpu: number[];
  starts: number;
  tried: number;
  cold: ColdRound;
}

/**
 * Times `rounds` rounds per size, alternating sizes so both see the same machine load. The
 * snapshots are built once: this measures planning, not loading (parsing belongs to the store).
 */
function measure(sizes: number[], rounds: number): { results: Measurement[]; peakHeapMb: number } {
  const built = sizes.map(buildSnapshot);
  const snapshots = built.map((b) => b.snapshot);
  const results: Measurement[] = sizes.map((shards, i) => ({
    shards,
    cold: built[i]!.cold,
    candidates: 0,
    wall: [],
    cpu: [],
    starts: 0,
    tried: 0,
  }));
  const rng = seededRng(7);
  let peakHeap = 0;
  for (let r = -1; r < rounds; r++) {
    snapshots.forEach((snapshot, i) => {
      const cpuBefore = process.cpuUsage();
      const started = process.hrtime.bigint();
      const plan = planRound(snapshot, NOW + r, rng);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const cpu = process.cpuUsage(cpuBefore);
      peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
      const result = results[i]!;
      if (r < 0) return; // warm-up
      result.wall.push(seconds);
      result.cpu.push((cpu.user + cpu.system) / 1e6);
      Object.assign(result, {
        candidates: plan.stats.candidatesEvaluated,
        starts: plan.starts.length,
        tried: plan.stats.tried,
      });
    });
  }
  return { results, peakHeapMb: peakHeap / 2 ** 20 };
}

function report(m: Measurement): void {
  const rate = m.candidates / median(m.cpu);
  const ms = (seconds: number) => `${(seconds * 1000).toFixed(1)} ms`;
  console.log(
    `${JOBS} jobs x ${m.shards} shards: ${m.candidates} candidates evaluated, ${m.tried} tried, ${m.starts} started\n` +
      `  round CPU median ${ms(median(m.cpu))} (fastest ${ms(fastest(m.cpu))}), wall median ${ms(median(m.wall))}\n` +
      `  ${Math.round(rate).toLocaleString("en-US")} candidates per CPU second at the median ` +
      `(goal ${GOAL_PER_SEC.toLocaleString("en-US")}: ${rate >= GOAL_PER_SEC ? "met" : "NOT met"})\n` +
      `  round from an idle state (separate, warm, median of 3): ${m.cold.starts} starts in ${ms(m.cold.seconds)} wall`,
  );
}

const { results, peakHeapMb } = measure([10_000, 100_000], 15);
const [small, large] = results as [Measurement, Measurement];
report(small);
report(large);
console.log(`peak heap ${peakHeapMb.toFixed(0)} MB (heapUsed after a round)`);
// Medians of CPU time: robust to a round hit by garbage collection or by other work on a shared machine.
const ratio = median(large.cpu) / median(small.cpu);
console.log(
  `time(${large.candidates} candidates) / time(${small.candidates}) = ${ratio.toFixed(2)} ` +
    `(median CPU per round; fastest rounds ${(fastest(large.cpu) / fastest(small.cpu)).toFixed(2)}, ` +
    `median wall ${(median(large.wall) / median(small.wall)).toFixed(2)}); at most ${MAX_RATIO}`,
);
if (ratio > MAX_RATIO) {
  console.error(`FAIL: the round is not near-linear (ratio ${ratio.toFixed(2)} > ${MAX_RATIO})`);
  process.exit(1);
}
