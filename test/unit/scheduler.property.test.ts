// Property-based tests of planRound over random configs, trees (with Bistro's replicas: a name
// under several parents), task states and workers: the invariants every plan must keep whatever
// the policy, order or selector.
import fc from "fast-check";
import { WORKER_LEVEL, jobCanRun, type Config, type Job, type Settings } from "../../lib/model/config";
import { StatusBits, StatusValues, isInBackoff, type TaskStatus } from "../../lib/model/status";
import { buildNodeTree, pathToNode, type NodeSpec, type NodeTree } from "../../lib/model/tree";
import { CandidateList } from "../../lib/scheduler/candidates";
import { planRound } from "../../lib/scheduler/plan";
import { TASK_DONE, TASK_ELIGIBLE } from "../../lib/scheduler/task-index";
import type { NodeUsage, Plan, RoundSnapshot, TaskRecord, WorkerSnapshot } from "../../lib/scheduler/snapshot";
import { makeJob, makeSettings, seededRng, type JobInput } from "../helpers/model";

const NOW = 10_000;

interface Scenario {
  snapshot: RoundSnapshot;
  seed: number;
}

/** Builds a random round: tree, resources, jobs, workers, statuses, and running tasks that fit. */
function buildScenario(g: fc.GeneratorValue): Scenario {
  const int = (min: number, max: number) => g(fc.integer, { min, max });
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)] as T;
  const chance = (outOf: number) => int(0, outOf - 1) === 0;

  const levels = ["l1", "l2", "l3"].slice(0, int(1, 3));
  const specs: NodeSpec[] = [];
  const namesByLevel: string[][] = [["inst"]];
  levels.forEach((level, depth) => {
    const names: string[] = [];
    const count = int(1, depth === 0 ? 3 : 6);
    for (let i = 0; i < count; i++) {
      const name = `${level}_${i}`;
      specs.push({
        name,
        level,
        parent: pick(namesByLevel[depth]!),
        enabled: !chance(8),
        tags: chance(2) ? ["t"] : [],
      });
      names.push(name);
    }
    // Bistro's replicas: a name repeated under another parent of the level above.
    if (chance(3)) {
      specs.push({
        name: pick(names),
        level,
        parent: pick(namesByLevel[depth]!),
        enabled: !chance(4),
        tags: chance(2) ? ["t"] : [],
      });
    }
    namesByLevel.push(names);
  });
  const tree = buildNodeTree(levels, "inst", specs);

  const resources: Record<string, Record<string, { limit: number; default: number; weight: number }>> = {};
  for (const level of ["instance", ...levels, WORKER_LEVEL]) {
    resources[level] = {};
    const count = int(0, 2);
    for (let i = 0; i < count; i++) {
      resources[level][`${level}_r${i}`] = { limit: chance(8) ? 0 : int(1, 6), default: int(0, 1), weight: int(0, 2) };
    }
  }
  const settings = makeSettings({
    enabled: !chance(10),
    levels,
    resources,
    scheduler: pick(["roundrobin", "ranked_priority", "randomized_priority", "long_tail"] as const),
    remoteWorkerSelector: pick(["roundrobin", "busiest"] as const),
    nodeOrder: pick(["original", "lexicographic", "random"] as const),
    killOrphanTasksAfterSec: pick([null, 0, 30]),
  });
  const resourceNames = Object.values(resources).flatMap((specsOfLevel) => Object.keys(specsOfLevel));
  const hostnames = [...(namesByLevel[1] ?? []), "elsewhere"];

  const jobs: Record<string, Job> = {};
  const jobCount = int(1, 5);
  for (let j = 0; j < jobCount; j++) {
    const name = `j${j}`;
    const dependsOn = Object.keys(jobs).filter(() => chance(3));
    const input: JobInput = {
      enabled: !chance(10),
      priority: int(0, 3),
      // A dependent job mostly shares its first dependency's level, so dependencies can be met.
      levelForTasks:
        dependsOn[0] && !chance(4) ? jobs[dependsOn[0]]!.levelForTasks : chance(8) ? "instance" : pick(levels),
      resources: Object.fromEntries(resourceNames.filter(() => chance(4)).map((r) => [r, int(0, 3)])),
      dependsOn,
    };
    if (chance(12)) input.errors = [{ path: `bistro_job->${name}`, message: "broken" }];
    if (chance(4)) {
      const level = pick(levels);
      const candidates = namesByLevel[levels.indexOf(level) + 1] ?? [];
      input.filters = {
        [level]: chance(2)
          ? { whitelist: candidates.filter(() => chance(2)) }
          : { fractionOfNodes: 0.5, tagWhitelist: chance(2) ? ["t"] : [] },
      };
    }
    if (chance(6)) input.filters = { ...input.filters, [WORKER_LEVEL]: { blacklist: [pick(hostnames)] } };
    if (chance(12)) input.hostPlacement = pick(hostnames);
    else if (chance(6)) input.levelForHostPlacement = pick(levels);
    jobs[name] = makeJob(name, input, settings);
  }
  const config: Config = { settings, jobs, warnings: [] };

  const workers: WorkerSnapshot[] = [];
  const workerCount = chance(8) ? 0 : int(1, 4);
  for (let w = 0; w < workerCount; w++) {
    const capacity: Record<string, number> = {};
    for (const r of Object.keys(resources[WORKER_LEVEL] ?? {})) if (chance(2)) capacity[r] = int(0, 5);
    workers.push({
      id: `w${w}`,
      hostname: pick(hostnames),
      state: chance(5) ? pick(["new", "unhealthy", "must_die"] as const) : "healthy",
      capacity,
    });
  }

  const allocator = new ReferenceAllocator(settings, tree, workers);
  const tasks: TaskRecord[] = [];
  const ghost = makeJob("ghost", {}, settings);
  for (const job of [...Object.values(jobs), ghost]) {
    const level = tree.levels.indexOf(job.levelForTasks);
    const seen = new Set<string>();
    for (const node of level < 0 ? [] : (tree.byLevel[level] ?? [])) {
      const nodeName = tree.names.at(node);
      // A task is per name: one record for all copies of a replica.
      if (seen.has(nodeName)) continue;
      seen.add(nodeName);
      const roll = int(0, 9);
      const previous = roll === 9 && chance(2) ? randomStatus(int, pick) : undefined;
      if (roll === 9) {
        const worker = workers.length > 0 && !chance(5) ? pick(workers).id : "gone-worker";
        const usage = allocator.tryAllocate(job, node, worker);
        if (usage) {
          const record: TaskRecord = {
            job: job.name,
            node: chance(10) ? `${nodeName}-deleted` : nodeName,
            running: {
              attemptId: `${job.name}/${nodeName}`,
              workerId: worker,
              startTimeSec: NOW - 1,
              usage,
              nextBackoff: { noMoreBackoffs: false, seconds: 15 },
            },
          };
          if (previous) record.status = previous;
          tasks.push(record);
        }
      } else if (roll >= 5 && job !== ghost) {
        const status =
          roll <= 6 ? { bits: StatusValues.DONE, timeSec: NOW - 5, backoffSec: 0 } : randomStatus(int, pick);
        tasks.push({ job: job.name, node: nodeName, status });
      }
    }
  }
  const snapshot: RoundSnapshot = {
    config,
    tree,
    tasks,
    workers,
    orphanTimers: [],
    workerCursors: { all: workers.length > 0 && chance(2) ? pick(workers).id : null, byHost: {} },
  };
  return { snapshot, seed: int(0, 1_000_000) };
}

function randomStatus(int: (min: number, max: number) => number, pick: <T>(items: readonly T[]) => T): TaskStatus {
  const bits = pick([
    StatusValues.DONE,
    StatusValues.FAILED,
    StatusValues.FAILED_BACKOFF_EXHAUSTED,
    StatusValues.ERROR_BACKOFF,
    StatusValues.INCOMPLETE,
    StatusValues.INCOMPLETE_BACKOFF,
    StatusValues.NEVER_STARTED,
    StatusValues.WAS_NOT_RUNNING,
  ]);
  const backoffSec = bits & StatusBits.USES_BACKOFF ? pick([0, 15, 60]) : 0;
  return { bits, timeSec: NOW - int(0, 60), backoffSec };
}

/** An independent, map-based ledger: builds valid running tasks, then checks plans against limits. */
class ReferenceAllocator {
  readonly free = new Map<string, number>();
  readonly limit = new Map<string, number>();

  constructor(
    private readonly settings: Settings,
    private readonly tree: NodeTree,
    workers: readonly WorkerSnapshot[],
  ) {
    for (let node = 0; node < tree.size; node++) {
      const specs = settings.resources[tree.levels[tree.levelOf[node]!]!] ?? {};
      for (const [name, spec] of Object.entries(specs)) this.setLimit(tree.names.at(node), name, spec.limit);
    }
    for (const worker of workers) {
      for (const [name, spec] of Object.entries(settings.resources[WORKER_LEVEL] ?? {})) {
        this.setLimit(`worker:${worker.id}`, name, worker.capacity[name] ?? spec.limit);
      }
    }
  }

  private setLimit(owner: string, name: string, amount: number) {
    this.limit.set(`${owner}|${name}`, amount);
    this.free.set(`${owner}|${name}`, amount);
  }

  /** The usage of a task of `job` on `node` and `worker`, charged if it fits everywhere; else null. */
  tryAllocate(job: Job, node: number, worker: string): NodeUsage[] | null {
    const usage: NodeUsage[] = [];
    for (let n = node; n >= 0; n = this.tree.parentOf[n]!) {
      const level = this.tree.levels[this.tree.levelOf[n]!]!;
      const names = Object.keys(this.settings.resources[level] ?? {});
      if (names.length > 0) usage.push({ node: this.tree.names.at(n), level, resources: amounts(job, names) });
    }
    const workerNames = Object.keys(this.settings.resources[WORKER_LEVEL] ?? {});
    if (workerNames.length > 0) usage.push({ node: worker, level: WORKER_LEVEL, resources: amounts(job, workerNames) });
    const keyed = usage.flatMap((u) =>
      Object.entries(u.resources).map(([name, amount]) => [this.key(u, name), amount] as const),
    );
    if (keyed.some(([key, amount]) => key !== null && amount > (this.free.get(key) ?? 0))) return null;
    for (const [key, amount] of keyed) if (key !== null) this.free.set(key, (this.free.get(key) ?? 0) - amount);
    return usage;
  }

  key(usage: NodeUsage, name: string): string | null {
    const key = usage.level === WORKER_LEVEL ? `worker:${usage.node}|${name}` : `${usage.node}|${name}`;
    return this.limit.has(key) ? key : null;
  }
}

function amounts(job: Job, names: readonly string[]): Record<string, number> {
  return Object.fromEntries(names.map((name) => [name, job.resources[name] ?? 0]));
}

const scenario = fc.gen().map((g) => buildScenario(g));
const RUNS = { numRuns: 400 };

function planOf({ snapshot, seed }: Scenario): Plan {
  return planRound(snapshot, NOW, seededRng(seed));
}

/**
 * The node (the right copy, for a replica) whose path of names from the instance is `path`; of
 * copies with the same path of names, one whose path is enabled if any.
 */
function nodeOfPath(tree: NodeTree, path: readonly string[]): number {
  const name = path.at(-1)!;
  const copies = tree.replicas.get(name) ?? [tree.indexOf.get(name)!];
  const matches = copies.filter((copy) => pathToNode(tree, copy).join("/") === path.join("/"));
  expect(matches.length).toBeGreaterThan(0);
  const enabledPath = (copy: number) => {
    for (let n = copy; n >= 0; n = tree.parentOf[n]!) if (!tree.enabled[n]) return false;
    return true;
  };
  return matches.find(enabledPath) ?? matches[0]!;
}

function recordOf(snapshot: RoundSnapshot, job: string, node: string): TaskRecord | undefined {
  return snapshot.tasks.find((t) => t.job === job && t.node === node);
}

describe("planRound properties (fast-check)", () => {
  it("never over-subscribes any resource on any node or worker, counting running tasks", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const plan = planOf(s);
        const ledger = new ReferenceAllocator(s.snapshot.config.settings, s.snapshot.tree, s.snapshot.workers);
        const used = new Map<string, number>();
        const charge = (usage: readonly NodeUsage[]) => {
          for (const u of usage) {
            for (const [name, amount] of Object.entries(u.resources)) {
              const key = ledger.key(u, name);
              if (key !== null) used.set(key, (used.get(key) ?? 0) + amount);
            }
          }
        };
        for (const task of s.snapshot.tasks) charge(task.running?.usage ?? []);
        for (const start of plan.starts) charge(start.usage);
        for (const [key, amount] of used) expect(amount).toBeLessThanOrEqual(ledger.limit.get(key)!);
      }),
      RUNS,
    );
  });

  it("records on each start exactly the job's amounts on its node, ancestors with resources, and worker", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { tree, config } = s.snapshot;
        for (const start of planOf(s).starts) {
          const expected = new ReferenceAllocator(config.settings, tree, s.snapshot.workers).tryAllocate(
            config.jobs[start.job]!,
            nodeOfPath(tree, start.pathToNode),
            start.workerId,
          );
          expect(start.usage).toEqual(expected);
        }
      }),
      RUNS,
    );
  });

  it("never starts a task twice, nor one that is running, done, failed or backing off", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const plan = planOf(s);
        const pairs = plan.starts.map((t) => `${t.job}|${t.node}`);
        expect(new Set(pairs).size).toBe(pairs.length);
        for (const start of plan.starts) {
          const record = recordOf(s.snapshot, start.job, start.node);
          expect(record?.running).toBeUndefined();
          const status = record?.status;
          if (status) {
            expect(status.bits & (StatusBits.DONE | StatusBits.FAILED)).toBe(0);
            expect(isInBackoff(status, NOW)).toBe(false);
          }
        }
      }),
      RUNS,
    );
  });

  it("never starts a task whose dependencies are not done on that node", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        for (const start of planOf(s).starts) {
          for (const dependency of s.snapshot.config.jobs[start.job]!.dependsOn) {
            const record = recordOf(s.snapshot, dependency, start.node);
            expect(record?.running).toBeUndefined();
            expect((record?.status?.bits ?? 0) & StatusBits.DONE).toBe(StatusBits.DONE);
          }
        }
      }),
      RUNS,
    );
  });

  it("starts nothing when settings.enabled is false, and nothing of a disabled or invalid job", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const plan = planOf(s);
        if (!s.snapshot.config.settings.enabled) expect(plan.starts).toEqual([]);
        for (const start of plan.starts) expect(jobCanRun(s.snapshot.config.jobs[start.job]!)).toBe(true);
      }),
      RUNS,
    );
  });

  it("starts only on enabled paths, at the job's level, on healthy workers on the required host", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { tree, config, workers } = s.snapshot;
        for (const start of planOf(s).starts) {
          const job = config.jobs[start.job]!;
          const node = nodeOfPath(tree, start.pathToNode);
          for (let n = node; n >= 0; n = tree.parentOf[n]!) expect(tree.enabled[n]).toBe(1);
          expect(tree.names.at(node)).toBe(start.node);
          expect(tree.levels[tree.levelOf[node]!]).toBe(job.levelForTasks);
          const worker = workers.find((w) => w.id === start.workerId)!;
          expect(worker.state).toBe("healthy");
          if (job.hostPlacement) expect(worker.hostname).toBe(job.hostPlacement);
          else if (job.levelForHostPlacement !== null) {
            const placementLevel = tree.levels.indexOf(job.levelForHostPlacement);
            const host = start.pathToNode.find((name) => tree.levelOf[tree.indexOf.get(name)!] === placementLevel);
            if (host !== undefined) expect(worker.hostname).toBe(host);
          }
        }
      }),
      RUNS,
    );
  });

  it("is deterministic for a given rng seed and leaves the snapshot untouched", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const before = structuredClone({
          tasks: s.snapshot.tasks,
          workers: s.snapshot.workers,
          config: s.snapshot.config,
        });
        const first = planOf(s);
        expect(planOf(s)).toEqual(first);
        expect({ tasks: s.snapshot.tasks, workers: s.snapshot.workers, config: s.snapshot.config }).toEqual(before);
      }),
      RUNS,
    );
  });

  it("plans exactly the same when done tasks are given as per-job codes instead of records", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { tree, tasks } = s.snapshot;
        const done = new Map<string, Uint8Array>();
        const rest: TaskRecord[] = [];
        for (const task of tasks) {
          const node = tree.indexOf.get(task.node);
          if (task.running || !task.status || (task.status.bits & StatusBits.DONE) === 0 || node === undefined) {
            rest.push(task);
            continue;
          }
          let codes = done.get(task.job);
          if (!codes) done.set(task.job, (codes = new Uint8Array(tree.size)));
          codes[node] = TASK_DONE;
        }
        const split = planRound({ ...s.snapshot, tasks: rest, done }, NOW, seededRng(s.seed));
        expect(split).toEqual(planOf(s));
      }),
      RUNS,
    );
  });
});

describe("planRound's fast path for a job the workers have no room for (fast-check)", () => {
  it("plans exactly what trying its remaining candidates one by one plans", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const slow = planRound(s.snapshot, NOW, seededRng(s.seed), { settleMisses: false });
        expect(planOf(s)).toEqual(slow);
      }),
      RUNS,
    );
  });
});

/** The candidate list as the planner built it before candidates were found lazily: every one, eagerly. */
function eagerCandidates(
  order: Int32Array,
  rejected: Uint8Array,
  codes: Uint8Array,
  dependencies: readonly Uint8Array[],
): number[] {
  return [...order].filter(
    (node) =>
      rejected[node] === 0 &&
      codes[node] === TASK_ELIGIBLE &&
      dependencies.every((dependency) => dependency[node] === TASK_DONE),
  );
}

describe("CandidateList (fast-check)", () => {
  it("counts, then takes from the end exactly the candidates an eager pass lists", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }).chain((size) =>
          fc.record({
            size: fc.constant(size),
            levelNodes: fc.uniqueArray(fc.integer({ min: 0, max: size - 1 }), { maxLength: size }),
            rejected: fc.uint8Array({ minLength: size, maxLength: size, min: 0, max: 1 }),
            codes: fc.uint8Array({ minLength: size, maxLength: size, min: 0, max: 3 }),
            dependencies: fc.array(fc.uint8Array({ minLength: size, maxLength: size, min: 0, max: 3 }), {
              maxLength: 2,
            }),
            seed: fc.integer(),
          }),
        ),
        ({ size, levelNodes, rejected, codes, dependencies, seed }) => {
          const nodes = Int32Array.from(levelNodes);
          const order = nodes.slice();
          const rng = seededRng(seed);
          order.sort(() => rng() - 0.5);
          const list = new CandidateList(0, 1, order, rejected, codes, dependencies, nodes, size);
          const expected = eagerCandidates(order, rejected, codes, dependencies);
          expect(list.length).toBe(expected.length);
          const taken: number[] = [];
          while (list.length > 0) taken.push(list.take());
          expect(taken).toEqual(expected.reverse());
        },
      ),
      RUNS,
    );
  });
});
