// Randomized concurrency test of the round protocol on DynamoDB Local + fauxqs: seeded
// interleavings of racing rounds, status batches with duplicates, reordering and stale ends,
// config changes, and a simulated worker. After every step no counter is negative or over the
// highest limit ever configured; at the end counters equal the running tasks' charges, and
// every task item's version shows each attempt started once and finished at most once. The
// rounds keep a warm task state (ADR 0003): after every step, that state brought up to date
// from the change entries equals a full read of the task items.
import type { KillMessage, StartMessage, TaskEnd } from "../../lib/dispatch/messages";
import { applyStatuses } from "../../lib/round/apply-statuses";
import { memoryCheckpointStore } from "../../lib/round/checkpoint";
import { runRounds, type RoundDeps } from "../../lib/round/run-round";
import { loadTaskItems } from "../../lib/round/task-cache";
import { readChangeSequence } from "../../lib/store/change-sequence";
import { counterDrift, readCounters, usageOfRunningTasks } from "../../lib/store/counters";
import { readJobTasks, type TaskItem } from "../../lib/store/tasks";
import { roundHarness, seededRng } from "../helpers/round";

const JOBS = ["backup", "scrape", "verify"];

/** `scrapeEnabled` null: the scrape job is deleted (its items stay stored; rounds retire it). */
function config(hostLimit: number, scrapeEnabled: boolean | null): Record<string, unknown> {
  const scrape = { owner: "stats", enabled: scrapeEnabled, resources: { host_concurrency: 0 } };
  return {
    bistro_settings: {
      enabled: true,
      backoff: [1, 2, "repeat"],
      kill_orphan_tasks_after_sec: 0,
      nodes: {
        levels: ["host", "db"],
        node_sources: [
          { source: "manual", prefs: { h1: [], h2: [], h3: [] } },
          { source: "range_label", prefs: { parent_level: "host", format: "{parent}.db{i}", start: 1, end: 4 } },
        ],
      },
      resources: {
        instance: { concurrency: { limit: 7, default: 1 } },
        host: { host_concurrency: { limit: hostLimit, default: 1 } },
        db: { db_concurrency: { limit: 1, default: 1 } },
        worker: { slots: { limit: 3, default: 1 } },
      },
    },
    "bistro_job->backup": { owner: "dba", priority: 3 },
    ...(scrapeEnabled === null ? {} : { "bistro_job->scrape": scrape }),
    "bistro_job->verify": { owner: "dba", depends_on: ["backup"] },
  };
}
const MAX_LIMITS: Record<string, number> = { concurrency: 7, host_concurrency: 2, db_concurrency: 1, slots: 3 };

describe.each([1, 2, 3])("randomized rounds, statuses and config changes (seed %i)", (seed) => {
  it("keeps every counter consistent and applies every status exactly once", async () => {
    const h = await roundHarness(seed);
    const rng = seededRng(seed * 7919);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
    try {
      let hostLimit = 2;
      let scrapeEnabled: boolean | null = true;
      await h.setConfig(config(hostLimit, scrapeEnabled));
      for (const w of ["w1", "w2", "w3"]) await h.addWorker(w);

      // The simulated workers: attempts they run, and ends not yet delivered.
      const running = new Map<string, StartMessage>();
      const pendingEnds: TaskEnd[] = [];
      const delivered: TaskEnd[] = [];
      let applied = 0;
      const workerOf = new Map<string, string>();
      const endOf = (start: StartMessage | KillMessage, fields: Partial<TaskEnd>): TaskEnd => ({
        job: start.job,
        node: start.node,
        attempt: start.attempt,
        token: start.token,
        worker: workerOf.get(start.attempt) ?? "w1",
        killed: false,
        exitCode: 0,
        signal: null,
        endedAtMs: h.now(),
        ...fields,
      });
      const collectOrders = async () => {
        for (const w of ["w1", "w2", "w3"]) {
          for (const order of await h.orders(w)) {
            if (order.type === "start") {
              workerOf.set(order.attempt, w);
              if (!running.has(order.attempt)) running.set(order.attempt, order);
            } else if (running.delete(order.attempt)) {
              pendingEnds.push(endOf(order, { killed: true }));
            } else {
              pendingEnds.push(endOf(order, { notRunning: true }));
            }
          }
        }
      };
      const deliver = async (ends: TaskEnd[]) => {
        const batch = ends.map((end, i) => ({ id: `m${i}`, body: JSON.stringify({ ends: [end] }) }));
        const result = await applyStatuses({ store: h.store, clock: h.now }, batch);
        expect(result.failed).toEqual([]);
        applied += result.applied;
        delivered.push(...ends);
      };
      // The rounds' warm state, shared by every round of the test (racing ones included), and
      // their checkpoints: a round often forgets when it last wrote one, so most rounds write one.
      const checkpoints = memoryCheckpointStore();
      const warm: Pick<RoundDeps, "taskCache" | "checkpointAtMs"> = {};
      const round = async (owner: string) => {
        const deps: RoundDeps = {
          ...h.deps,
          owner,
          checkpoints,
          ...(warm.taskCache ? { taskCache: warm.taskCache } : {}),
          ...(warm.checkpointAtMs !== undefined && rng() < 0.5 ? { checkpointAtMs: warm.checkpointAtMs } : {}),
        };
        await runRounds(deps, 2);
        if (deps.taskCache) warm.taskCache = deps.taskCache;
        if (deps.checkpointAtMs !== undefined) warm.checkpointAtMs = deps.checkpointAtMs;
      };
      const byKey = (items: TaskItem[]) =>
        items.map((t) => ({ ...t })).sort((a, b) => `${a.job}/${a.node}`.localeCompare(`${b.job}/${b.node}`));
      const checkWarmState = async () => {
        if (!warm.taskCache) return;
        const sequence = await readChangeSequence(h.store);
        // A deleted job's items stay stored, but only its running ones are held.
        const planned = new Set(scrapeEnabled === null ? JOBS.filter((job) => job !== "scrape") : JOBS);
        const jobs = { planned, withTasks: () => Promise.resolve(JOBS) };
        const full = (await Promise.all(JOBS.map((job) => readJobTasks(h.store, job))))
          .flat()
          .filter((t) => planned.has(t.job) || t.state === "running");
        const holder = { taskCache: warm.taskCache };
        const items = await loadTaskItems(h.store, holder, sequence, jobs, h.now());
        expect(holder.taskCache).toBe(warm.taskCache);
        expect(byKey(items)).toEqual(byKey(full));
        // A cold process starting from the last checkpoint and the entries since sees the same.
        const events: Record<string, unknown>[] = [];
        const cold = { checkpoints, log: (event: Record<string, unknown>) => events.push(event) };
        expect(byKey(await loadTaskItems(h.store, cold, sequence, jobs, h.now()))).toEqual(byKey(full));
        if (checkpoints.body) expect(events.map((e) => e.event)).toEqual(["task-cache-from-checkpoint"]);
      };
      const checkCounters = async () => {
        for (const [counter, resources] of await readCounters(h.store)) {
          for (const [resource, used] of resources) {
            expect({ counter, resource, used, ok: used >= 0 && used <= MAX_LIMITS[resource]! }).toMatchObject({
              ok: true,
            });
          }
        }
      };

      for (let step = 0; step < 40; step++) {
        const action = rng();
        if (action < 0.35) {
          // One round, or two racing ones: the lease lets one through, fencing stops a loser mid-way.
          const racers = rng() < 0.4 ? 2 : 1;
          await Promise.all(Array.from({ length: racers }, (_, i) => round(`round-${step}-${i}`)));
          await collectOrders();
        } else if (action < 0.7 && running.size > 0) {
          // Some running attempts end; their ends arrive shuffled, some twice, with old ones again.
          for (const attempt of [...running.keys()]) {
            if (rng() < 0.5) continue;
            const start = running.get(attempt)!;
            running.delete(attempt);
            pendingEnds.push(endOf(start, { rawStatus: pick(["done", "done", "error_backoff", "incomplete"]) }));
          }
          const batch = pendingEnds.splice(0).sort(() => rng() - 0.5);
          const duplicates = batch.filter(() => rng() < 0.3);
          const stale = delivered.filter(() => rng() < 0.1);
          await deliver([...batch, ...duplicates, ...stale].sort(() => rng() - 0.5));
        } else if (action < 0.8) {
          hostLimit = hostLimit === 2 ? 1 : 2;
          const change = rng();
          if (change < 0.25) scrapeEnabled = scrapeEnabled === null ? true : null;
          else if (change < 0.5) scrapeEnabled = scrapeEnabled === false;
          await h.setConfig(config(hostLimit, scrapeEnabled));
        } else {
          h.advance(Math.floor(rng() * 3000));
          // The round process goes cold: its next round starts from the checkpoint.
          if (rng() < 0.5) delete warm.taskCache;
        }
        await checkCounters();
        await checkWarmState();
      }

      // Drain: finish everything, run rounds until quiet.
      for (let i = 0; i < 30 && (running.size > 0 || pendingEnds.length > 0 || i < 3); i++) {
        for (const [attempt, start] of running) {
          running.delete(attempt);
          pendingEnds.push(endOf(start, { rawStatus: "done" }));
        }
        if (pendingEnds.length > 0) await deliver(pendingEnds.splice(0));
        h.advance(3000);
        await round(`drain-${i}`);
        await collectOrders();
        await checkCounters();
        await checkWarmState();
      }

      const tasks = (await Promise.all(JOBS.map((job) => readJobTasks(h.store, job)))).flat();
      expect(counterDrift(await readCounters(h.store), usageOfRunningTasks(tasks))).toEqual([]);
      expect(tasks.filter((t) => t.state === "running")).toEqual([]);
      // Each attempt bumps the version once at start and once at its (single) finish.
      const attempts = new Map<string, Set<string>>();
      for (const end of delivered) {
        const key = `${end.job}/${end.node}`;
        attempts.set(key, (attempts.get(key) ?? new Set()).add(end.attempt));
      }
      for (const task of tasks) {
        const started = attempts.get(`${task.job}/${task.node}`)?.size ?? 0;
        expect({ task: `${task.job}/${task.node}`, version: task.version }).toEqual({
          task: `${task.job}/${task.node}`,
          version: 2 * started,
        });
      }
      const distinctAttempts = [...attempts.values()].reduce((n, s) => n + s.size, 0);
      expect(applied).toBe(distinctAttempts);
      expect(distinctAttempts).toBeGreaterThan(10);
    } finally {
      h.destroy();
    }
  }, 180_000);
});
