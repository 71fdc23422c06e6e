// The pure scheduler against Bistro's behaviours,
// one describe per behaviour, on configs built as model objects.
import type { Config, SchedulerPolicyName } from "../../lib/model/config";
import { StatusValues, type TaskStatus } from "../../lib/model/status";
import type { NodeTree } from "../../lib/model/tree";
import { finishTask } from "../../lib/scheduler/backoff";
import { planRound } from "../../lib/scheduler/plan";
import type { RoundSnapshot, TaskRecord } from "../../lib/scheduler/snapshot";
import { errorBackoff, forgive } from "../../lib/scheduler/status";
import {
  commitStarts,
  makeConfig,
  makeSnapshot,
  makeTree,
  makeWorker,
  seededRng,
  startedPairs,
  type JobInput,
  type SettingsInput,
} from "../helpers/model";

const NOW = 1_000_000;

function plan(snapshot: RoundSnapshot, seed = 1, now = NOW) {
  return planRound(snapshot, now, seededRng(seed));
}

/** Bistro's `test_configs/simple`: instance concurrency 3, four level2 nodes. */
function simpleConfig(settings: SettingsInput = {}, jobs: Record<string, JobInput> = { simple_job: {} }): Config {
  return makeConfig(
    {
      enabled: true,
      levels: ["level1", "level2"],
      resources: { instance: { concurrency: { limit: 3, default: 1 } } },
      ...settings,
    },
    jobs,
  );
}
const simpleTree = () => makeTree(["level1", "level2"], { node1: ["node11", "node12"], node2: ["node21", "node22"] });

/** Hosts h1..h3 with dbs dbH1, dbH2 each. */
function hostTree(extras: Parameters<typeof makeTree>[2] = {}): NodeTree {
  return makeTree(["host", "db"], { h1: ["db11", "db12"], h2: ["db21", "db22"], h3: ["db31", "db32"] }, extras);
}
function hostConfig(settings: SettingsInput = {}, jobs: Record<string, JobInput> = { j: {} }): Config {
  return makeConfig({ enabled: true, levels: ["host", "db"], ...settings }, jobs);
}

const status = (bits: number, backoffSec = 0, timeSec = NOW - 10): TaskStatus => ({ bits, timeSec, backoffSec });

/** A running attempt that recorded no resources. */
function running(job: string, node: string): TaskRecord {
  const nextBackoff = { noMoreBackoffs: false, seconds: 15 };
  return {
    job,
    node,
    running: { attemptId: `${job}-${node}`, workerId: "w1", startTimeSec: NOW - 5, usage: [], nextBackoff },
  };
}

describe("resource accounting: Bistro's simple config", () => {
  it("starts exactly 3 of the 4 level2 tasks under instance concurrency 3", () => {
    const result = plan(makeSnapshot(simpleConfig(), simpleTree()));
    expect(result.starts).toHaveLength(3);
    for (const start of result.starts) {
      expect(start.job).toBe("simple_job");
      expect(start.node).toMatch(/^node\d\d$/);
      expect(start.usage).toEqual([{ node: "instance", level: "instance", resources: { concurrency: 1 } }]);
      expect(start.resourcesByNode).toEqual({ instance: { concurrency: 1 } });
      expect(start.pathToNode).toEqual(["instance", `node${start.node[4]!}`, start.node]);
      expect(start.workerId).toBe("w1");
    }
    expect(new Set(result.starts.map((s) => s.node)).size).toBe(3);
  });

  it("starts the 4th task only once a running one has finished", () => {
    const first = makeSnapshot(simpleConfig(), simpleTree());
    const afterFirst = commitStarts(first, plan(first), NOW);
    expect(plan(afterFirst, 2).starts).toHaveLength(0);
    const finished = afterFirst.tasks.map((t, i) =>
      i === 0 ? { job: t.job, node: t.node, status: status(StatusValues.DONE) } : t,
    );
    const second = plan({ ...afterFirst, tasks: finished }, 3);
    expect(second.starts).toHaveLength(1);
    const allNodes = new Set([...afterFirst.tasks.map((t) => t.node), ...second.starts.map((s) => s.node)]);
    expect(allNodes.size).toBe(4);
  });

  it("charges running tasks what they recorded, including tasks of deleted jobs and nodes", () => {
    const ghost: TaskRecord = {
      job: "deleted_job",
      node: "deleted_node",
      running: {
        attemptId: "a",
        workerId: "w1",
        startTimeSec: NOW,
        usage: [{ node: "instance", level: "instance", resources: { concurrency: 2 } }],
        nextBackoff: { noMoreBackoffs: false, seconds: 15 },
      },
    };
    expect(plan(makeSnapshot(simpleConfig(), simpleTree(), { tasks: [ghost] })).starts).toHaveLength(1);
  });

  it("ignores recorded resources and nodes the config no longer has", () => {
    const stale: TaskRecord = {
      job: "simple_job",
      node: "node11",
      running: {
        attemptId: "a",
        workerId: "w1",
        startTimeSec: NOW,
        usage: [
          { node: "instance", level: "instance", resources: { concurrency: 1, removed_resource: 5 } },
          { node: "gone", level: "level1", resources: { concurrency: 1 } },
        ],
        nextBackoff: { noMoreBackoffs: false, seconds: 15 },
      },
    };
    expect(plan(makeSnapshot(simpleConfig(), simpleTree(), { tasks: [stale] })).starts).toHaveLength(2);
  });

  it("uses a job's own amount over the level default", () => {
    const config = simpleConfig({}, { big: { resources: { concurrency: 2 } } });
    const result = plan(makeSnapshot(config, simpleTree()));
    expect(result.starts).toHaveLength(1);
    expect(result.starts[0]!.usage[0]!.resources).toEqual({ concurrency: 2 });
  });

  it("a 0 requirement fails only when availability is negative (over-commit after a config change)", () => {
    const config = simpleConfig({}, { free_rider: { resources: { concurrency: 0 } } });
    const full: TaskRecord = {
      job: "old",
      node: "x",
      running: {
        attemptId: "a",
        workerId: "w1",
        startTimeSec: NOW,
        usage: [{ node: "instance", level: "instance", resources: { concurrency: 3 } }],
        nextBackoff: { noMoreBackoffs: false, seconds: 15 },
      },
    };
    expect(plan(makeSnapshot(config, simpleTree(), { tasks: [full] })).starts).toHaveLength(4);
    const over = {
      ...full,
      running: { ...full.running!, usage: [{ ...full.running!.usage[0]!, resources: { concurrency: 4 } }] },
    };
    expect(plan(makeSnapshot(config, simpleTree(), { tasks: [over] })).starts).toHaveLength(0);
  });

  it("enforces data-side limits per host (at most 2 tasks per host)", () => {
    const config = hostConfig({ resources: { host: { host_concurrency: { limit: 2, default: 1 } } } });
    const tree = makeTree(["host", "db"], {
      h1: ["a1", "a2", "a3", "a4"],
      h2: ["b1", "b2", "b3"],
      h3: ["c1"],
    });
    const result = plan(makeSnapshot(config, tree));
    const perHost = new Map<string, number>();
    for (const start of result.starts) {
      const host = start.pathToNode[1]!;
      perHost.set(host, (perHost.get(host) ?? 0) + 1);
      expect(start.usage).toEqual([{ node: host, level: "host", resources: { host_concurrency: 1 } }]);
    }
    expect(Object.fromEntries(perHost)).toEqual({ h1: 2, h2: 2, h3: 1 });
  });

  it("a job asking for the whole host limit occupies the host", () => {
    const config = hostConfig(
      { resources: { host: { host_concurrency: { limit: 2, default: 1 } } } },
      { heavy: { resources: { host_concurrency: 2 } } },
    );
    const result = plan(makeSnapshot(config, hostTree()));
    expect(result.starts.map((s) => s.pathToNode[1]).sort()).toEqual(["h1", "h2", "h3"]);
  });

  it("checks every level on the path: db, host and instance limits together", () => {
    const config = hostConfig({
      resources: {
        instance: { global: { limit: 4, default: 1 } },
        host: { host_concurrency: { limit: 2, default: 1 } },
        db: { db_concurrency: { limit: 1, default: 1 } },
      },
    });
    const result = plan(makeSnapshot(config, hostTree()));
    expect(result.starts).toHaveLength(4);
    const start = result.starts[0]!;
    expect(start.usage.map((u) => u.level)).toEqual(["db", "host", "instance"]);
    expect(start.resourcesByNode).toEqual({
      [start.node]: { db_concurrency: 1 },
      [start.pathToNode[1]!]: { host_concurrency: 1 },
      instance: { global: 1 },
    });
  });

  it("limits and records worker resources, with the per-worker capacity of the snapshot", () => {
    const config = hostConfig({ resources: { worker: { slots: { limit: 2, default: 1 } } } });
    expect(plan(makeSnapshot(config, hostTree())).starts).toHaveLength(2);
    const overridden = makeSnapshot(config, hostTree(), { workers: [makeWorker("w1", { capacity: { slots: 5 } })] });
    const result = plan(overridden);
    expect(result.starts).toHaveLength(5);
    expect(result.starts[0]!.usage.at(-1)).toEqual({ node: "w1", level: "worker", resources: { slots: 1 } });
    expect(result.starts[0]!.resourcesByNode.w1).toEqual({ slots: 1 });
  });
});

describe("candidates: statuses", () => {
  it("excludes running, done, failed and in-backoff tasks; incomplete, expired backoff and errors without backoff run", () => {
    const tree = makeTree(["n"], Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`n${i}`, []])));
    const config = makeConfig({ enabled: true, levels: ["n"] }, { j: {} });
    const tasks: TaskRecord[] = [
      running("j", "n0"),
      { job: "j", node: "n1", status: status(StatusValues.DONE) },
      { job: "j", node: "n2", status: status(StatusValues.FAILED) },
      { job: "j", node: "n3", status: status(StatusValues.ERROR_BACKOFF, 60) },
      { job: "j", node: "n4", status: status(StatusValues.ERROR_BACKOFF, 5) },
      { job: "j", node: "n5", status: status(StatusValues.INCOMPLETE) },
      { job: "j", node: "n6", status: status(StatusValues.WAS_NOT_RUNNING) },
      { job: "j", node: "n7", status: status(StatusValues.NEVER_STARTED) },
      { job: "j", node: "n8", status: status(StatusValues.INCOMPLETE_BACKOFF, 60) },
      { job: "j", node: "n9", status: status(StatusValues.FAILED_BACKOFF_EXHAUSTED, 60, NOW - 1000) },
    ];
    const result = plan(makeSnapshot(config, tree, { tasks }));
    expect(startedPairs(result)).toEqual(["j:n10", "j:n4", "j:n5", "j:n6", "j:n7"]);
  });

  it("gives a started task its previous status and the next backoff step", () => {
    const tree = makeTree(["n"], { n0: [] });
    const config = makeConfig(
      { enabled: true, levels: ["n"], backoff: { values: [5, 15, 60], end: "fail" } },
      { j: {} },
    );
    const previous = status(StatusValues.ERROR_BACKOFF, 5, NOW - 100);
    const [start] = plan(makeSnapshot(config, tree, { tasks: [{ job: "j", node: "n0", status: previous }] })).starts;
    expect(start!.previous).toEqual(previous);
    expect(start!.nextBackoff).toEqual({ noMoreBackoffs: false, seconds: 15 });
  });
});

describe("candidates: node order and job order", () => {
  const tree = () => makeTree(["n"], { b: [], d: [], a: [], c: [] });
  const oneAtATime = (nodeOrder: "original" | "lexicographic" | "random") =>
    makeConfig(
      { enabled: true, levels: ["n"], nodeOrder, resources: { instance: { c: { limit: 1, default: 1 } } } },
      { j: {} },
    );

  it("lexicographic: lists are consumed from the end, so the highest name is tried first", () => {
    expect(startedPairs(plan(makeSnapshot(oneAtATime("lexicographic"), tree())))).toEqual(["j:d"]);
  });

  it("original: the last node in fetch order is tried first", () => {
    expect(startedPairs(plan(makeSnapshot(oneAtATime("original"), tree())))).toEqual(["j:c"]);
  });

  it("random: a fresh shuffle from the rng each round", () => {
    const chosen = new Set<string>();
    for (let seed = 0; seed < 40; seed++)
      chosen.add(plan(makeSnapshot(oneAtATime("random"), tree()), seed).starts[0]!.node);
    expect(chosen.size).toBe(4);
  });

  it("job order is shuffled each round", () => {
    const config = makeConfig(
      { enabled: true, levels: ["n"], resources: { instance: { c: { limit: 1, default: 1 } } } },
      { a: {}, b: {}, c: {} },
    );
    const winners = new Set<string>();
    for (let seed = 0; seed < 40; seed++) winners.add(plan(makeSnapshot(config, tree()), seed).starts[0]!.job);
    expect([...winners].sort()).toEqual(["a", "b", "c"]);
  });

  it("runs a job on its level_for_tasks", () => {
    const config = simpleConfig({}, { upper: { levelForTasks: "level1" } });
    expect(startedPairs(plan(makeSnapshot(config, simpleTree())))).toEqual(["upper:node1", "upper:node2"]);
  });

  it("a job on a level without nodes starts nothing and says why", () => {
    const config = simpleConfig({}, { w: { levelForTasks: "worker" } });
    const result = plan(makeSnapshot(config, simpleTree()));
    expect(result.starts).toEqual([]);
    expect(result.reasons).toEqual([{ job: "w", message: "Job w runs on level worker, which has no nodes" }]);
  });
});

describe("candidates: shouldRunOn (disabled nodes and filters)", () => {
  const run = (jobs: Record<string, JobInput>, extras: Parameters<typeof makeTree>[2] = {}) =>
    startedPairs(plan(makeSnapshot(hostConfig({}, jobs), hostTree(extras))));

  it("skips disabled nodes and every node under a disabled ancestor", () => {
    expect(run({ j: {} }, { disabled: ["h2", "db11"] })).toEqual(["j:db12", "j:db31", "j:db32"]);
  });

  it("whitelist keeps only the listed names", () => {
    expect(run({ j: { filters: { db: { whitelist: ["db11", "db22"] } } } })).toEqual(["j:db11", "j:db22"]);
  });

  it("whitelist_regex searches anywhere in the name", () => {
    expect(run({ j: { filters: { db: { whitelistRegex: "b2" } } } })).toEqual(["j:db21", "j:db22"]);
  });

  it("blacklist and blacklist_regex exclude", () => {
    expect(run({ j: { filters: { db: { blacklist: ["db11"], blacklistRegex: "^db[23]" } } } })).toEqual(["j:db12"]);
  });

  it("filters of an ancestor's level apply to the ancestor", () => {
    expect(run({ j: { filters: { host: { whitelist: ["h3"] } } } })).toEqual(["j:db31", "j:db32"]);
  });

  it("tag_whitelist needs at least one of the tags", () => {
    const tags = { h1: ["ssd"], h2: ["hdd", "old"], h3: [] };
    expect(run({ j: { filters: { host: { tagWhitelist: ["ssd", "old"] } } } }, { tags })).toEqual([
      "j:db11",
      "j:db12",
      "j:db21",
      "j:db22",
    ]);
  });

  it("all conditions are ANDed", () => {
    expect(
      run({ j: { filters: { db: { whitelistRegex: "1$", blacklist: ["db21"] }, host: { blacklist: ["h3"] } } } }),
    ).toEqual(["j:db11"]);
  });

  it("fraction_of_nodes keeps a stable, job-specific share of the nodes", () => {
    const names = Array.from({ length: 1000 }, (_, i) => `shard${i}`);
    const tree = makeTree(["n"], Object.fromEntries(names.map((n) => [n, []])));
    const config = makeConfig(
      { enabled: true, levels: ["n"] },
      { a: { filters: { n: { fractionOfNodes: 0.3 } } }, b: { filters: { n: { fractionOfNodes: 0.3 } } } },
    );
    const picked = (job: string, seed: number) =>
      new Set(
        plan(makeSnapshot(config, tree), seed)
          .starts.filter((s) => s.job === job)
          .map((s) => s.node),
      );
    const a = picked("a", 1);
    expect(a.size).toBeGreaterThan(240);
    expect(a.size).toBeLessThan(360);
    expect(picked("a", 2)).toEqual(a);
    const b = picked("b", 1);
    expect([...a].filter((n) => b.has(n)).length).toBeLessThan(a.size * 0.5);
  });

  it("a regex the engine cannot compile makes the job unrunnable, with a reason", () => {
    const result = plan(makeSnapshot(hostConfig({}, { j: { filters: { db: { whitelistRegex: "(" } } } }), hostTree()));
    expect(result.starts).toEqual([]);
    expect(result.reasons[0]!.message).toMatch(/^Job j has a bad filter: Invalid regex \(/);
  });
});

describe("candidates: depends_on", () => {
  it("needs `done` of every dependency on the same node name; failed, incomplete or running do not count", () => {
    const config = hostConfig({}, { a: {}, c: {}, b: { dependsOn: ["a", "c"] } });
    const tasks: TaskRecord[] = [
      { job: "a", node: "db11", status: status(StatusValues.DONE) },
      { job: "c", node: "db11", status: status(StatusValues.DONE) },
      { job: "a", node: "db12", status: status(StatusValues.DONE) },
      { job: "c", node: "db12", status: status(StatusValues.FAILED) },
      { job: "a", node: "db21", status: status(StatusValues.INCOMPLETE) },
      { job: "c", node: "db21", status: status(StatusValues.DONE) },
      { ...running("a", "db22"), status: status(StatusValues.DONE) },
      { job: "c", node: "db22", status: status(StatusValues.DONE) },
    ];
    const result = plan(makeSnapshot(config, hostTree(), { tasks }));
    expect(result.starts.filter((s) => s.job === "b").map((s) => s.node)).toEqual(["db11"]);
  });

  it("a dependency on another level can never be satisfied", () => {
    const config = hostConfig({}, { up: { levelForTasks: "host" }, down: { dependsOn: ["up"] } });
    const tasks = ["h1", "h2", "h3"].map((node) => ({ job: "up", node, status: status(StatusValues.DONE) }));
    expect(plan(makeSnapshot(config, hostTree(), { tasks })).starts).toEqual([]);
  });

  it("an unknown dependency means the job never runs", () => {
    const result = plan(makeSnapshot(hostConfig({}, { b: { dependsOn: ["ghost"] } }), hostTree()));
    expect(result.starts).toEqual([]);
    expect(result.reasons).toEqual([{ job: "b", message: "Job b depends on unknown job ghost" }]);
  });

  it("deleting a job neither orphans nor kills its dependents' running tasks (they stay valid, as in Bistro)", () => {
    // `b` depended on `a`, which was deleted: b's running task keeps running, b starts nothing new.
    const config = hostConfig({ killOrphanTasksAfterSec: 0 }, { b: { dependsOn: ["a"] } });
    const result = plan(makeSnapshot(config, hostTree(), { tasks: [running("b", "db11")] }));
    expect(result.kills).toEqual([]);
    expect(result.orphanTimers).toEqual([]);
    expect(result.starts).toEqual([]);
    expect(result.reasons).toEqual([{ job: "b", message: "Job b depends on unknown job a" }]);
  });

  it("a disabled dependency still counts its done tasks", () => {
    const config = hostConfig({}, { a: { enabled: false }, b: { dependsOn: ["a"] } });
    const tasks = [{ job: "a", node: "db31", status: status(StatusValues.DONE) }];
    expect(startedPairs(plan(makeSnapshot(config, hostTree(), { tasks })))).toEqual(["b:db31"]);
  });
});

describe("jobs and settings that cannot run", () => {
  it("starts nothing when settings.enabled is false, and leaves orphan timers alone", () => {
    const config = simpleConfig({ enabled: false });
    const timers = [{ job: "simple_job", node: "gone", firstSeenSec: 5 }];
    const result = plan(
      makeSnapshot(config, simpleTree(), { orphanTimers: timers, tasks: [running("simple_job", "gone")] }),
    );
    expect(result.starts).toEqual([]);
    expect(result.kills).toEqual([]);
    expect(result.orphanTimers).toEqual(timers);
    expect(result.reasons).toEqual([{ message: "Not running because enabled is false" }]);
  });

  it("skips disabled and invalid jobs, saying why", () => {
    const config = simpleConfig(
      {},
      {
        off: { enabled: false },
        broken: { errors: [{ path: "bistro_job->broken.owner", message: "Couldn't find key owner" }] },
      },
    );
    const result = plan(makeSnapshot(config, simpleTree()));
    expect(result.starts).toEqual([]);
    expect(result.reasons.sort((a, b) => (a.job ?? "").localeCompare(b.job ?? ""))).toEqual([
      { job: "broken", message: "Job broken is invalid: bistro_job->broken.owner: Couldn't find key owner" },
      { job: "off", message: "Job off is disabled" },
    ]);
  });

  it("waits working_wait while tasks run and idle_wait otherwise", () => {
    const config = simpleConfig({ workingWaitSec: 0.5, idleWaitSec: 5 });
    expect(plan(makeSnapshot(config, simpleTree())).nextRoundInSec).toBe(0.5);
    const allDone = ["node11", "node12", "node21", "node22"].map((node) => ({
      job: "simple_job",
      node,
      status: status(StatusValues.DONE),
    }));
    expect(plan(makeSnapshot(config, simpleTree(), { tasks: allDone })).nextRoundInSec).toBe(5);
  });
});

describe("policies", () => {
  const tree = () => makeTree(["n"], Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`n${i}`, []])));
  const config = (scheduler: SchedulerPolicyName, limit: number, jobs: Record<string, JobInput>) =>
    makeConfig(
      { enabled: true, levels: ["n"], scheduler, resources: { instance: { c: { limit, default: 1 } } } },
      jobs,
    );
  const perJob = (result: ReturnType<typeof plan>) => {
    const counts: Record<string, number> = {};
    for (const s of result.starts) counts[s.job] = (counts[s.job] ?? 0) + 1;
    return counts;
  };

  it("roundrobin (default): jobs take turns, one start each per pass", () => {
    for (let seed = 0; seed < 10; seed++) {
      expect(perJob(plan(makeSnapshot(config("roundrobin", 4, { a: {}, b: {} }), tree()), seed))).toEqual({
        a: 2,
        b: 2,
      });
      const three = perJob(plan(makeSnapshot(config("roundrobin", 5, { a: {}, b: {}, c: {} }), tree()), seed));
      expect(Object.values(three).sort()).toEqual([1, 2, 2]);
    }
  });

  it("ranked_priority: the highest priority job tries all its candidates first", () => {
    const jobs = { low: { priority: 1 }, high: { priority: 10 } };
    for (let seed = 0; seed < 10; seed++) {
      expect(perJob(plan(makeSnapshot(config("ranked_priority", 3, jobs), tree()), seed))).toEqual({ high: 3 });
      expect(perJob(plan(makeSnapshot(config("ranked_priority", 6, jobs), tree()), seed))).toEqual({ high: 4, low: 2 });
    }
  });

  it("long_tail: the job with the fewest candidates this round goes first", () => {
    const jobs = { wide: {}, narrow: { filters: { n: { whitelist: ["n0", "n1"] } } } };
    const tasks = [{ job: "wide", node: "n0", status: status(StatusValues.DONE) }];
    for (let seed = 0; seed < 10; seed++) {
      const result = plan(makeSnapshot(config("long_tail", 3, jobs), tree(), { tasks }), seed);
      expect(perJob(result)).toEqual({ narrow: 2, wide: 1 });
    }
  });

  it("randomized_priority: picks jobs with probability priority / total", () => {
    const wins: Record<string, number> = {};
    for (let seed = 0; seed < 200; seed++) {
      const result = plan(
        makeSnapshot(config("randomized_priority", 1, { a: { priority: 9 }, b: { priority: 1 } }), tree()),
        seed,
      );
      const job = result.starts[0]!.job;
      wins[job] = (wins[job] ?? 0) + 1;
    }
    expect(wins.a).toBeGreaterThan(160);
    expect(wins.b).toBeGreaterThan(5);
  });

  it("randomized_priority: a job with priority 0 is never drawn while others remain", () => {
    for (let seed = 0; seed < 30; seed++) {
      const result = plan(
        makeSnapshot(config("randomized_priority", 1, { zero: { priority: 0 }, one: {} }), tree()),
        seed,
      );
      expect(result.starts.map((s) => s.job)).toEqual(["one"]);
    }
  });

  it("every policy tries each candidate at most once and drains all when there is room", () => {
    for (const policy of ["roundrobin", "ranked_priority", "randomized_priority", "long_tail"] as const) {
      const result = plan(makeSnapshot(config(policy, 100, { a: {}, b: {} }), tree()));
      expect(result.starts).toHaveLength(8);
      expect(result.stats).toEqual({ candidatesEvaluated: 8, candidates: 8, tried: 8, running: 0 });
    }
  });
});

describe("worker selection", () => {
  const slots = (limit: number, weight = 0) => ({ worker: { slots: { limit, default: 1, weight } } });

  it("no workers: nothing starts, the round stops with a reason", () => {
    const result = plan(makeSnapshot(hostConfig(), hostTree(), { workers: [] }));
    expect(result.starts).toEqual([]);
    expect(result.stats.tried).toBe(1);
    // The backlog workers scale on is still counted: every runnable task, none running.
    expect(result.stats).toMatchObject({ candidates: 6, running: 0 });
    expect(result.reasons[0]!.message).toMatch(/^No workers were available to run j, db\d\d$/);
  });

  it("no HEALTHY worker (new, unhealthy, must_die): the round stops with a reason", () => {
    const workers = [
      makeWorker("a", { state: "new" }),
      makeWorker("b", { state: "unhealthy" }),
      makeWorker("c", { state: "must_die" }),
    ];
    const result = plan(makeSnapshot(hostConfig(), hostTree(), { workers }));
    expect(result.starts).toEqual([]);
    expect(result.stats.tried).toBe(1);
    expect(result.reasons[0]!.message).toMatch(/^None of the workers are healthy to run j, /);
  });

  it("counts running tasks and the runnable ones beside them (the scaling backlog)", () => {
    const result = plan(
      makeSnapshot(hostConfig(), hostTree(), { workers: [], tasks: [running("j", "db11"), running("j", "db21")] }),
    );
    expect(result.stats).toMatchObject({ candidates: 4, running: 2 });
  });

  it("only healthy workers get tasks", () => {
    const workers = [makeWorker("a", { state: "unhealthy" }), makeWorker("b"), makeWorker("c", { state: "new" })];
    const result = plan(makeSnapshot(hostConfig(), hostTree(), { workers }));
    expect(result.starts).toHaveLength(6);
    expect(new Set(result.starts.map((s) => s.workerId))).toEqual(new Set(["b"]));
  });

  it("stopping aborts the whole round, even for other jobs", () => {
    const config = hostConfig(
      { scheduler: "ranked_priority" },
      { pinned: { priority: 2, hostPlacement: "ghost-host" }, free: { priority: 1 } },
    );
    const result = plan(makeSnapshot(config, hostTree()));
    expect(result.starts).toEqual([]);
    expect(result.reasons[0]!.message).toMatch(/^No workers were available on host ghost-host to run pinned, /);
  });

  it("when no worker fits, the next candidate is tried", () => {
    const config = hostConfig(
      { scheduler: "ranked_priority", resources: slots(2) },
      { huge: { priority: 2, resources: { slots: 3 } }, small: { priority: 1 } },
    );
    const result = plan(makeSnapshot(config, hostTree()));
    expect(result.starts.map((s) => s.job)).toEqual(["small", "small"]);
    // Ranked policy: huge tries its 6 candidates in vain, then small tries all 6 (2 fit).
    expect(result.stats.tried).toBe(12);
  });

  it("roundrobin: rotates from the cursor and carries it to the next round", () => {
    const config = hostConfig({ resources: slots(10) });
    const workers = ["w1", "w2", "w3"].map((id) => makeWorker(id));
    const three = makeTree(["host", "db"], { h1: ["x", "y", "z"] });
    const result = plan(makeSnapshot(config, three, { workers }));
    expect(result.starts.map((s) => s.workerId)).toEqual(["w1", "w2", "w3"]);
    expect(result.workerCursors.all).toBe("w1");
    const one = makeTree(["host", "db"], { h1: ["x"] });
    const next = plan(makeSnapshot(config, one, { workers, workerCursors: { all: "w2", byHost: {} } }));
    expect(next.starts.map((s) => s.workerId)).toEqual(["w2"]);
    expect(next.workerCursors.all).toBe("w3");
  });

  it("roundrobin: a cursor whose worker left points at the next id", () => {
    const config = hostConfig({ resources: slots(10) });
    const workers = ["w1", "w3"].map((id) => makeWorker(id));
    const one = makeTree(["host", "db"], { h1: ["x"] });
    const result = plan(makeSnapshot(config, one, { workers, workerCursors: { all: "w2", byHost: {} } }));
    expect(result.starts.map((s) => s.workerId)).toEqual(["w3"]);
  });

  it("roundrobin: skips full workers and moves the cursor past a failed walk by one", () => {
    const config = hostConfig({ resources: slots(1) }, { big: { resources: { slots: 2 } } });
    const workers = ["w1", "w2", "w3"].map((id) => makeWorker(id));
    const one = makeTree(["host", "db"], { h1: ["x", "y"] });
    const result = plan(makeSnapshot(config, one, { workers, workerCursors: { all: "w2", byHost: {} } }));
    expect(result.starts).toEqual([]);
    // Two failed walks (one per candidate), each moving the cursor by one: w2 -> w3 -> w1.
    expect(result.workerCursors.all).toBe("w1");
  });

  it("busiest: chooses the fitting worker with the least weighted room left", () => {
    const config = hostConfig({ remoteWorkerSelector: "busiest", resources: slots(4, 1) });
    const workers = [
      makeWorker("roomy", { capacity: { slots: 8 } }),
      makeWorker("tight", { capacity: { slots: 2 } }),
      makeWorker("full", { capacity: { slots: 0 } }),
    ];
    const one = makeTree(["host", "db"], { h1: ["x", "y", "z"] });
    const result = plan(makeSnapshot(config, one, { workers }));
    expect(result.starts.map((s) => s.workerId).sort()).toEqual(["roomy", "tight", "tight"]);
  });

  it("busiest: the no-healthy-worker rule also stops the round", () => {
    const config = hostConfig({ remoteWorkerSelector: "busiest" });
    const result = plan(makeSnapshot(config, hostTree(), { workers: [makeWorker("a", { state: "unhealthy" })] }));
    expect(result.starts).toEqual([]);
    expect(result.reasons[0]!.message).toMatch(/None of the workers are healthy/);
  });

  it("level_for_host_placement: the task runs on the worker named like its ancestor at that level", () => {
    const config = hostConfig({}, { local: { levelForHostPlacement: "host" } });
    const tree = makeTree(["host", "db"], { h1: ["db11", "db12"], h2: ["db21"] });
    const workers = [
      makeWorker("wa", { hostname: "h1" }),
      makeWorker("wb", { hostname: "h2" }),
      makeWorker("wc", { hostname: "h9" }),
    ];
    const result = plan(makeSnapshot(config, tree, { workers }));
    expect(result.starts).toHaveLength(3);
    for (const start of result.starts) expect(start.workerHost).toBe(start.pathToNode[1]);
    expect(result.workerCursors.byHost).toMatchObject({ h1: "wa", h2: "wb" });
  });

  it("host_placement wins over level_for_host_placement", () => {
    const config = hostConfig({}, { pinned: { levelForHostPlacement: "host", hostPlacement: "h2" } });
    const workers = [makeWorker("wa", { hostname: "h1" }), makeWorker("wb", { hostname: "h2" })];
    const result = plan(makeSnapshot(config, hostTree(), { workers }));
    expect(new Set(result.starts.map((s) => s.workerId))).toEqual(new Set(["wb"]));
    expect(result.starts).toHaveLength(6);
  });

  it("worker-level filters apply to the worker's hostname", () => {
    const config = hostConfig({}, { picky: { filters: { worker: { whitelistRegex: "^gpu" } } } });
    const workers = [makeWorker("w1", { hostname: "cpu-1" }), makeWorker("w2", { hostname: "gpu-1" })];
    const result = plan(makeSnapshot(config, hostTree(), { workers }));
    expect(new Set(result.starts.map((s) => s.workerHost))).toEqual(new Set(["gpu-1"]));
  });

  it("worker resources of running tasks are charged to their worker", () => {
    const config = hostConfig({ resources: slots(2) });
    const busy: TaskRecord = {
      job: "other",
      node: "db11",
      running: {
        attemptId: "x",
        workerId: "w1",
        startTimeSec: NOW,
        usage: [{ node: "w1", level: "worker", resources: { slots: 2 } }],
        nextBackoff: { noMoreBackoffs: false, seconds: 15 },
      },
    };
    const workers = [makeWorker("w1"), makeWorker("w2")];
    const result = plan(makeSnapshot(config, hostTree(), { workers, tasks: [busy] }));
    expect(result.starts.map((s) => s.workerId)).toEqual(["w2", "w2"]);
  });
});

describe("orphans", () => {
  const orphanConfig = (settings: SettingsInput = {}, jobs: Record<string, JobInput> = { j: {} }) =>
    hostConfig({ killOrphanTasksAfterSec: 60, ...settings }, jobs);

  it("kills a task on a deleted node once it has been an orphan for kill_orphan_tasks_after_sec", () => {
    const tasks = [running("j", "deleted")];
    let snapshot = makeSnapshot(orphanConfig(), hostTree(), { tasks });
    const first = plan(snapshot, 1, 1000);
    expect(first.kills).toEqual([]);
    expect(first.orphanTimers).toEqual([{ job: "j", node: "deleted", firstSeenSec: 1000 }]);
    snapshot = { ...snapshot, orphanTimers: first.orphanTimers };
    expect(plan(snapshot, 1, 1059).kills).toEqual([]);
    const due = plan(snapshot, 1, 1060);
    expect(due.kills).toEqual([
      {
        job: "j",
        node: "deleted",
        attemptId: "j-deleted",
        workerId: "w1",
        request: { method: "term", killWaitMs: 0 },
        reason: "Orphan: node deleted was deleted",
      },
    ]);
    // The timer is dropped after a kill: a survivor is signaled again after another full delay.
    expect(due.orphanTimers).toEqual([]);
  });

  it("never kills when the delay is null (Bistro's default), and keeps no timer", () => {
    const result = plan(
      makeSnapshot(orphanConfig({ killOrphanTasksAfterSec: null }), hostTree(), { tasks: [running("j", "gone")] }),
    );
    expect(result.kills).toEqual([]);
    expect(result.orphanTimers).toEqual([]);
  });

  it("a delay of 0 kills at once, every round", () => {
    const snapshot = makeSnapshot(orphanConfig({ killOrphanTasksAfterSec: 0 }), hostTree(), {
      tasks: [running("j", "gone")],
    });
    expect(plan(snapshot, 1, 1000).kills).toHaveLength(1);
    expect(plan(snapshot, 1, 1001).kills).toHaveLength(1);
  });

  it("a disabled, invalid or deleted job orphans its tasks; the job's delay and kill request win over the config's", () => {
    const config = orphanConfig(
      { killSubprocess: { method: "term", killWaitMs: 0 } },
      {
        off: { enabled: false, killOrphanTasksAfterSec: 0, killSubprocess: { method: "kill", killWaitMs: 0 } },
        bad: { killOrphanTasksAfterSec: 0, errors: [{ path: "x", message: "bad" }] },
        slow: { enabled: false, killOrphanTasksAfterSec: 500 },
      },
    );
    const tasks = [
      running("off", "db11"),
      running("bad", "db12"),
      running("slow", "db21"),
      running("deleted_job", "db22"),
    ];
    const result = plan(makeSnapshot(config, hostTree(), { tasks }), 1, 1000);
    expect(result.kills.map((k) => [k.job, k.request.method, k.reason])).toEqual([
      ["off", "kill", "Orphan: job off is disabled"],
      ["bad", "term", "Orphan: job bad is invalid"],
    ]);
    expect(result.orphanTimers).toEqual([
      { job: "slow", node: "db21", firstSeenSec: 1000 },
      { job: "deleted_job", node: "db22", firstSeenSec: 1000 },
    ]);
    // The deleted job uses the config's delay (60 s) and kill request.
    const later = plan({ ...makeSnapshot(config, hostTree(), { tasks }), orphanTimers: result.orphanTimers }, 1, 1060);
    expect(later.kills.filter((k) => k.job === "deleted_job")).toEqual([
      expect.objectContaining({
        request: { method: "term", killWaitMs: 0 },
        reason: "Orphan: job deleted_job was deleted",
      }),
    ]);
  });

  it("a disabled node orphans its tasks, a disabled ancestor does not", () => {
    const tasks = [running("j", "db11"), running("j", "db21")];
    const result = plan(
      makeSnapshot(orphanConfig({ killOrphanTasksAfterSec: 0 }), hostTree({ disabled: ["db11", "h2"] }), { tasks }),
    );
    expect(result.kills.map((k) => k.node)).toEqual(["db11"]);
  });

  it("forgets the timer of a task that stops being an orphan", () => {
    const snapshot = makeSnapshot(orphanConfig(), hostTree(), {
      tasks: [running("j", "db11")],
      orphanTimers: [{ job: "j", node: "db11", firstSeenSec: 1 }],
    });
    const result = plan(snapshot, 1, 5000);
    expect(result.kills).toEqual([]);
    expect(result.orphanTimers).toEqual([]);
  });

  it("orphans keep holding their recorded resources", () => {
    const config = orphanConfig({ resources: { instance: { c: { limit: 2, default: 1 } } } });
    const orphan: TaskRecord = {
      job: "gone_job",
      node: "db11",
      running: {
        attemptId: "o",
        workerId: "w1",
        startTimeSec: NOW,
        usage: [{ node: "instance", level: "instance", resources: { c: 1 } }],
        nextBackoff: { noMoreBackoffs: false, seconds: 15 },
      },
    };
    expect(plan(makeSnapshot(config, hostTree(), { tasks: [orphan] })).starts).toHaveLength(1);
  });
});

describe("backoff across rounds", () => {
  it("an erroring task waits out each backoff, fails on the 4th error, and runs again once forgiven", () => {
    const config = makeConfig(
      { enabled: true, levels: ["n"], backoff: { values: [5, 15, 60], end: "fail" } },
      { j: {} },
    );
    const tree = makeTree(["n"], { only: [] });
    let snapshot = makeSnapshot(config, tree);
    let now = 1000;
    const waits: number[] = [];
    for (let attempt = 1; attempt <= 4; attempt++) {
      const round = plan(snapshot, attempt, now);
      expect(startedPairs(round)).toEqual(["j:only"]);
      snapshot = commitStarts(snapshot, round, now);
      const record = snapshot.tasks[0]!;
      const finished = finishTask({
        previous: record.status,
        nextBackoff: record.running!.nextBackoff,
        reported: errorBackoff("boom"),
        nowSec: now,
      });
      snapshot = { ...snapshot, tasks: [{ job: "j", node: "only", status: finished }] };
      waits.push(finished.backoffSec);
      if (attempt < 4) {
        expect(plan(snapshot, 9, now + finished.backoffSec - 1).starts).toEqual([]);
        now += finished.backoffSec;
      }
    }
    expect(waits).toEqual([5, 15, 60, 60]);
    expect(snapshot.tasks[0]!.status!.bits).toBe(StatusValues.FAILED_BACKOFF_EXHAUSTED);
    expect(plan(snapshot, 1, now + 1_000_000).starts).toEqual([]);
    const forgiven = { ...snapshot, tasks: [{ job: "j", node: "only", status: forgive(snapshot.tasks[0]!.status!) }] };
    const again = plan(forgiven, 1, now);
    expect(startedPairs(again)).toEqual(["j:only"]);
    expect(again.starts[0]!.nextBackoff).toEqual({ noMoreBackoffs: false, seconds: 5 });
  });
});
