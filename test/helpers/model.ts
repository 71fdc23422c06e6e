// Builders for model objects with Bistro's defaults, so scheduler tests can
// state only what they vary. Also small trees, workers, snapshots, and a seeded rng.
import { defaultTaskSubprocess } from "../../lib/config/defaults";
import type { BackoffSettings, Config, Job, JobFilter, ResourceSpec, Settings } from "../../lib/model/config";
import { INSTANCE_LEVEL } from "../../lib/model/config";
import { buildNodeTree, type NodeSpec, type NodeTree } from "../../lib/model/tree";
import type { Plan, RoundSnapshot, TaskRecord, WorkerSnapshot } from "../../lib/scheduler/snapshot";

export const DEFAULT_BACKOFF: BackoffSettings = {
  values: [15, 30, 60, 300, 900, 3600, 7200, 21600, 86400],
  end: "repeat",
};

type ResourceInput = Record<string, Record<string, Omit<ResourceSpec, "weight"> & { weight?: number }>>;

export type SettingsInput = Partial<Omit<Settings, "resources">> & { resources?: ResourceInput };

/** Settings with Bistro's defaults; note `enabled` defaults to false, as in Bistro. */
export function makeSettings(partial: SettingsInput = {}): Settings {
  const levels = partial.levels ?? [];
  const resources: Settings["resources"] = {};
  for (const [level, specs] of Object.entries(partial.resources ?? {})) {
    resources[level] = {};
    for (const [name, spec] of Object.entries(specs)) {
      resources[level][name] = { limit: spec.limit, default: spec.default, weight: spec.weight ?? 0 };
    }
  }
  return {
    enabled: false,
    workingWaitSec: 0.5,
    idleWaitSec: 5,
    scheduler: "roundrobin",
    remoteWorkerSelector: "roundrobin",
    backoff: DEFAULT_BACKOFF,
    nodeSources: [],
    nodeOrder: "random",
    levelForTasks: levels.at(-1) ?? INSTANCE_LEVEL,
    killOrphanTasksAfterSec: null,
    taskSubprocess: defaultTaskSubprocess(),
    killSubprocess: { method: "term", killWaitMs: 0 },
    workerResourcesOverride: {},
    physicalResources: {},
    exitInitialWaitBeforeTimestamp: 0,
    ...partial,
    levels,
    resources,
  };
}

export function makeFilter(partial: Partial<JobFilter> = {}): JobFilter {
  return {
    whitelist: [],
    whitelistRegex: null,
    blacklist: [],
    blacklistRegex: null,
    tagWhitelist: [],
    fractionOfNodes: 1,
    ...partial,
  };
}

export type JobInput = Partial<Omit<Job, "name" | "filters">> & { filters?: Record<string, Partial<JobFilter>> };

/** A job inheriting from `settings` as Bistro's jobs do; `resources` lists only overrides. */
export function makeJob(name: string, partial: JobInput = {}, settings: Settings = makeSettings()): Job {
  const resources: Job["resources"] = {};
  for (const specs of Object.values(settings.resources)) {
    for (const [resource, spec] of Object.entries(specs)) resources[resource] = spec.default;
  }
  const filters: Job["filters"] = {};
  for (const [level, filter] of Object.entries(partial.filters ?? {})) filters[level] = makeFilter(filter);
  return {
    owner: "test",
    enabled: true,
    priority: 1,
    config: {},
    levelForTasks: settings.levelForTasks,
    levelForHostPlacement: null,
    hostPlacement: null,
    backoff: settings.backoff,
    dependsOn: [],
    killOrphanTasksAfterSec: settings.killOrphanTasksAfterSec,
    attemptDurationSec: null,
    taskSubprocess: settings.taskSubprocess,
    killSubprocess: settings.killSubprocess,
    command: [],
    createTime: null,
    modifyTime: null,
    versionId: null,
    errors: [],
    ...partial,
    name,
    resources: { ...resources, ...partial.resources },
    filters,
  };
}

export function makeConfig(settings: SettingsInput, jobs: Record<string, JobInput> = {}): Config {
  const built = makeSettings(settings);
  const result: Config = { settings: built, jobs: {}, warnings: [] };
  for (const [name, job] of Object.entries(jobs)) result.jobs[name] = makeJob(name, job, built);
  return result;
}

export interface TreeExtras {
  disabled?: string[];
  tags?: Record<string, string[]>;
  instance?: string;
}

/**
 * A tree in the shape of Bistro's `manual` node source: `children` maps a node to its children;
 * nodes that are nobody's child hang under the instance at the first level.
 */
export function makeTree(levels: string[], children: Record<string, string[]>, extras: TreeExtras = {}): NodeTree {
  const instance = extras.instance ?? "instance";
  const isChild = new Set(Object.values(children).flat());
  const specs: NodeSpec[] = [];
  const add = (name: string, depth: number, parent: string) => {
    const level = levels[depth - 1];
    if (level === undefined) throw new Error(`Node ${name} is deeper than the levels`);
    specs.push({
      name,
      level,
      parent,
      enabled: !(extras.disabled ?? []).includes(name),
      tags: extras.tags?.[name] ?? [],
    });
    for (const child of children[name] ?? []) add(child, depth + 1, name);
  };
  for (const root of Object.keys(children)) if (!isChild.has(root)) add(root, 1, instance);
  return buildNodeTree(levels, instance, specs);
}

export function makeWorker(id: string, partial: Partial<Omit<WorkerSnapshot, "id">> = {}): WorkerSnapshot {
  return { hostname: id, state: "healthy", capacity: {}, ...partial, id };
}

export function makeSnapshot(
  config: Config,
  tree: NodeTree,
  partial: Partial<Omit<RoundSnapshot, "config" | "tree">> = {},
): RoundSnapshot {
  return {
    tasks: [],
    workers: [makeWorker("w1")],
    orphanTimers: [],
    workerCursors: { all: null, byHost: {} },
    ...partial,
    config,
    tree,
  };
}

/** The snapshot after committing a plan: its starts become running attempts (other tasks kept). */
export function commitStarts(snapshot: RoundSnapshot, plan: Plan, nowSec: number): RoundSnapshot {
  const started = new Set(plan.starts.map((s) => `${s.job}\u0000${s.node}`));
  const kept = snapshot.tasks.filter((t) => !started.has(`${t.job}\u0000${t.node}`));
  const tasks: TaskRecord[] = plan.starts.map((s, i) => {
    const record: TaskRecord = {
      job: s.job,
      node: s.node,
      running: {
        attemptId: `a${nowSec}-${i}`,
        workerId: s.workerId,
        startTimeSec: nowSec,
        usage: s.usage,
        nextBackoff: s.nextBackoff,
      },
    };
    if (s.previous) record.status = s.previous;
    return record;
  });
  return {
    ...snapshot,
    tasks: [...kept, ...tasks],
    orphanTimers: plan.orphanTimers,
    workerCursors: plan.workerCursors,
  };
}

/** mulberry32: a small seeded generator of uniform numbers in [0, 1). */
export function seededRng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** "job:node" of each start, sorted, for compact assertions. */
export function startedPairs(plan: Plan): string[] {
  return plan.starts.map((s) => `${s.job}:${s.node}`).sort();
}
