// Nodes refresh benchmark (`npm run bench:nodes`): one refresh of a 1M-node source end to end
// on DynamoDB Local (sources run, tree built, node set encoded, hashed and stored), then the
// same refresh again with nothing changed, then the next round's read of the stored set by a
// cold process. Prints time, bytes written (0 when unchanged) and peak heap above the
// baseline. Goals: <= 10 s and <= 64 MB heap for the changed refresh. Exits 1 if an unchanged
// refresh writes anything.
import { makeAwsClients } from "../lib/aws";
import { startEmulators } from "../lib/local/emulators";
import type { Settings } from "../lib/model/config";
import { builtinNodeSources } from "../lib/nodes";
import { currentNodes, type NodeRefreshDeps } from "../lib/round/node-refresh";
import { ensureTable } from "../lib/store/table";

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

/** Runs `work`, sampling the heap every 10 ms; peak is above the heap before it started. */
async function measured<T>(work: () => Promise<T>): Promise<{ result: T; sec: number; peakHeap: number }> {
  gc?.();
  const baseline = process.memoryUsage().heapUsed;
  let peak = baseline;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  }, 10);
  const started = performance.now();
  const result = await work();
  const sec = (performance.now() - started) / 1000;
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().heapUsed);
  return { result, sec, peakHeap: peak - baseline };
}

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
        `${mb(first.result.bytesWritten)} MB written, peak heap +${mb(first.peakHeap)} MB ` +
        `(goals <= ${GOAL_SEC} s, <= ${GOAL_HEAP_MB} MB)`,
    );
    // Same nodes, refresh due: the sources run again and nothing is written.
    const again = await measured(() => currentNodes(deps, settings, first.result.mark, t0 + 300_000));
    console.log(
      `nodes: refresh unchanged: ${again.sec.toFixed(2)} s, ${again.result.bytesWritten} bytes written ` +
        `(changed: ${String(again.result.changed)}), peak heap +${mb(again.peakHeap)} MB`,
    );
    // Not due: a warm round reuses its tree (no reads); a cold one reads and decodes the stored set.
    const warm = await measured(() =>
      currentNodes(
        { ...deps, ...(again.result.cache ? { cache: again.result.cache } : {}) },
        settings,
        again.result.mark,
        t0 + 301_000,
      ),
    );
    const cold = await measured(() => currentNodes(deps, settings, again.result.mark, t0 + 301_000));
    console.log(
      `nodes: next round, warm: ${(warm.sec * 1000).toFixed(1)} ms; cold (read + decode the stored set): ` +
        `${cold.sec.toFixed(2)} s, peak heap +${mb(cold.peakHeap)} MB`,
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
