// Nodes refresh benchmark (`npm run bench:nodes`): one refresh of a 1M-node source end to end
// on DynamoDB Local (sources run, tree built, node set encoded, hashed and stored), then the
// same refresh again with nothing changed, then the next round's read of the stored set by a
// cold process. Prints time, bytes written (0 when unchanged), the peak JS heap and Buffer
// memory above a baseline taken in the same run, and what the result still holds after a full
// GC. The peak is exact, not sampled: the heap only grows between collections, so its peak is
// the largest size seen just before a collection (V8's GC profiler reports each one) or at the
// end; a timer alone could not see inside the synchronous stretches of a refresh. Goals: <= 10 s and <= 64 MB heap for the changed refresh. Exits 1 if an unchanged refresh
// writes anything.
import { makeAwsClients } from "../lib/aws";
import { startEmulators } from "../lib/local/emulators";
import type { Settings } from "../lib/model/config";
import { builtinNodeSources } from "../lib/nodes";
import { currentNodes, type NodeRefreshDeps } from "../lib/round/node-refresh";
import { ensureTable } from "../lib/store/table";
import { watchPeakMemory } from "./peak-memory";

const HOSTS = 1000;
const DBS_PER_HOST = 999; // 1,000 hosts + 999,000 dbs = 1,000,000 nodes
const GOAL_SEC = 10;
const GOAL_HEAP_MB = 64;

const settings: Pick<Settings, "levels" | "nodeSources"> = {
  levels: ["host", "db"],
  nodeSources: [
    { source: "range_label", prefs: { parent_level: "instance", start: 1, end: HOSTS, format: "host{i}" } },
    { source: "range_label", prefs: { parent_level: "host", start: 1, end: DBS_PER_HOST, format: "{parent}.db{i}" } },
  ],
};

const gc = (globalThis as { gc?: () => void }).gc;
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

interface Measured<T> {
  result: T;
  sec: number;
  /** Peak JS heap above the baseline: before every GC, every 10 ms, and at the end. */
  peakHeap: number;
  /** Peak memory outside the JS heap (Buffers, typed arrays) above the baseline, sampled alike. */
  peakBuffers: number;
  /** JS heap still held after the work and a full GC (what the result keeps), above the baseline. */
  heldHeap: number;
  heldBuffers: number;
}

/** Runs `work`, sampling the heap; the baseline is taken after a full GC just before it starts. */
async function measured<T>(work: () => Promise<T>): Promise<Measured<T>> {
  gc?.();
  const base = process.memoryUsage();
  const watch = watchPeakMemory({ heap: base.heapUsed, outside: base.external });
  const started = performance.now();
  const result = await work();
  const sec = (performance.now() - started) / 1000;
  const { heap: peakHeap, outside: peakBuffers } = watch.stop();
  gc?.();
  const held = process.memoryUsage();
  return {
    result,
    sec,
    peakHeap: peakHeap - base.heapUsed,
    peakBuffers: peakBuffers - base.external,
    heldHeap: held.heapUsed - base.heapUsed,
    heldBuffers: held.external - base.external,
  };
}

const memory = (m: Measured<unknown>) =>
  `peak heap +${mb(m.peakHeap)} MB (held after: +${mb(m.heldHeap)} MB), ` +
  `buffers +${mb(m.peakBuffers)} MB (held: +${mb(m.heldBuffers)} MB)`;

async function main(): Promise<void> {
  if (!gc) console.log("nodes: run with --expose-gc for a steady heap baseline (npm run bench:nodes does)");
  const emulators = await startEmulators({ sqsAndS3: false, timeoutMs: 120_000 });
  const aws = makeAwsClients({ endpoints: { dynamodb: emulators.endpoints.dynamodb } });
  try {
    const tableName = `bench-nodes-${Date.now()}`;
    await ensureTable(aws.dynamodb, tableName);
    const deps: NodeRefreshDeps = {
      store: { doc: aws.doc, tableName },
      registry: builtinNodeSources(),
      instanceName: "instance",
      timings: { updateMs: 300_000, retryMs: 30_000 },
    };
    const t0 = Date.UTC(2026, 11, 1);
    const first = await measured(() => currentNodes(deps, settings, undefined, t0));
    const nodes = first.result.tree ? first.result.tree.size - 1 : 0;
    console.log(
      `nodes: refresh of ${nodes.toLocaleString("en-US")} nodes (changed): ${first.sec.toFixed(2)} s, ` +
        `${mb(first.result.bytesWritten)} MB written; ${memory(first)}`,
    );
    console.log(
      `nodes: goals <= ${GOAL_SEC} s: ${first.sec <= GOAL_SEC ? "met" : "NOT met"}; ` +
        `<= ${GOAL_HEAP_MB} MB heap above baseline: ${first.peakHeap / 1024 / 1024 <= GOAL_HEAP_MB ? "met" : "NOT met"}`,
    );
    // Same nodes, refresh due: the sources run again and nothing is written. The warm round
    // holds the previous tree meanwhile (it is in the baseline).
    const again = await measured(() =>
      currentNodes(
        { ...deps, ...(first.result.cache ? { cache: first.result.cache } : {}) },
        settings,
        first.result.mark,
        t0 + 300_000,
      ),
    );
    console.log(
      `nodes: refresh unchanged: ${again.sec.toFixed(2)} s, ${again.result.bytesWritten} bytes written ` +
        `(changed: ${String(again.result.changed)}); ${memory(again)}`,
    );
    const warm = await measured(() =>
      currentNodes(
        { ...deps, ...(again.result.cache ? { cache: again.result.cache } : {}) },
        settings,
        again.result.mark,
        t0 + 301_000,
      ),
    );
    // Not due: a warm round reuses its tree (no reads); a cold one reads and decodes the stored set.
    const cold = await measured(() => currentNodes(deps, settings, again.result.mark, t0 + 301_000));
    console.log(
      `nodes: next round, warm: ${(warm.sec * 1000).toFixed(1)} ms; cold (read + decode the stored set): ` +
        `${cold.sec.toFixed(2)} s; ${memory(cold)}`,
    );
    if (again.result.bytesWritten !== 0 || again.result.changed) {
      console.error("nodes: an unchanged refresh wrote to the store");
      process.exitCode = 1;
    }
  } finally {
    aws.destroy();
    await emulators.stop();
  }
}

void main();
