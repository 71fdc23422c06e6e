// Reading what the handlers show: the stored config (parsed), the node tree of the last
// refresh (or, before a refresh of the current node settings, what the sources produce now),
// and task items. `ApiView` memoizes them for one request, so Bistro's
// multi-query body reads each once and every subquery sees the same snapshot. The tree of the
// stored node set is also kept across requests while the set's version is unchanged, so a
// request reads its small head item instead of decoding every node again.
import { parseConfig } from "../config";
import type { Config } from "../model/config";
import type { NodeTree } from "../model/tree";
import { decodeTree } from "../nodes/codec";
import { loadNodes, type NodeSourceRegistry } from "../nodes";
import { deploymentNodeSources } from "../nodes/deployment-sources";
import { nodeSettingsHash, TREE_SET } from "../round/node-refresh";
import { getConfig, type StoredConfig } from "../store/config-store";
import type { StoreContext } from "../store/context";
import { readNodeSetBody, readNodeSetHead, type NodeSetHead } from "../store/node-sets";
import { readSchedulerState, type NodeRefreshMark } from "../store/scheduler-state";
import { NotFoundError } from "../store/errors";
import { readJobsWithTasks, readTasks, type TaskItem } from "../store/tasks";
import type { ApiDeps } from "./deps";
import { UnavailableError } from "./errors";

export interface CurrentConfig {
  stored: StoredConfig;
  config: Config;
}

export const NO_CONFIG_MESSAGE = "No config is stored yet: PUT /config (or `sous apply FILE`) first.";

/** The current config, parsed; null when none is stored. */
export async function readCurrentConfig(deps: ApiDeps): Promise<CurrentConfig | null> {
  const stored = await getConfig(deps.store);
  if (!stored) return null;
  const parsed = parseConfig(stored.document);
  // Only validated documents are stored; this means the parser changed under a stored config.
  if (!parsed.ok) {
    throw new Error(
      `The stored config version ${stored.version} no longer parses: ${parsed.errors.map((e) => e.message).join("; ")}`,
    );
  }
  return { stored, config: parsed.config };
}

export async function requireCurrentConfig(deps: ApiDeps): Promise<CurrentConfig> {
  const current = await readCurrentConfig(deps);
  if (!current) throw new NotFoundError(NO_CONFIG_MESSAGE);
  return current;
}

/** Where the nodes refresh stands; undefined before the first one. */
export async function readRefreshMark(deps: ApiDeps): Promise<NodeRefreshMark | undefined> {
  return (await readSchedulerState(deps.store)).nodes;
}

/**
 * The tree rounds schedule on: the stored result of the last refresh when it was made from the
 * current node settings; otherwise (no refresh yet since the settings changed) what the
 * sources produce now, or a 503 naming the failing source (one failing source fails the whole
 * refresh, as in Bistro).
 */
export async function loadTree(deps: ApiDeps, config: Config): Promise<NodeTree> {
  const settings = config.settings;
  const mark = await readRefreshMark(deps);
  if (mark?.setSourcesHash === nodeSettingsHash(settings, deps.instanceName)) {
    const tree = await storedTree(deps, settings.levels);
    if (tree) return tree;
  }
  try {
    return await loadNodes(settings, deps.instanceName, deps.clock() / 1000, nodeSourcesOf(deps));
  } catch (error) {
    throw new UnavailableError(`Nodes could not be loaded: ${error instanceof Error ? error.message : String(error)}`);
  }
}

interface KeptTree {
  head: NodeSetHead;
  levels: string;
  instanceName: string;
  tree: NodeTree;
}

/** Per store (one per process and table): the tree built from the stored set's last read version. */
const keptTrees = new WeakMap<StoreContext, KeptTree>();

/** The tree of the stored refresh result (null when none is stored), rebuilt only when its version changes. */
async function storedTree(deps: ApiDeps, levels: readonly string[]): Promise<NodeTree | null> {
  const levelsKey = JSON.stringify(levels);
  const kept = keptTrees.get(deps.store);
  if (kept && kept.levels === levelsKey && kept.instanceName === deps.instanceName) {
    const head = await readNodeSetHead(deps.store, TREE_SET);
    if (!head) return null;
    if (head.version === kept.head.version && head.hash === kept.head.hash) return kept.tree;
  }
  const set = await readNodeSetBody(deps.store, TREE_SET);
  if (!set) return null;
  const tree = decodeTree(levels, deps.instanceName, set.body);
  keptTrees.set(deps.store, { head: set.head, levels: levelsKey, instanceName: deps.instanceName, tree });
  return tree;
}

/** The node sources this deployment implements: the ones rounds use, and the ones a config may name. */
export function nodeSourcesOf(deps: ApiDeps): NodeSourceRegistry {
  return deps.nodeSources ?? deploymentNodeSources({ store: deps.store });
}

/** Jobs whose task items may exist: the configured ones and any that ever had items. */
export async function jobsWithItems(deps: ApiDeps, config: Config): Promise<string[]> {
  return withConfigured(config, await readJobsWithTasks(deps.store));
}

const withConfigured = (config: Config, withTasks: Iterable<string>): string[] =>
  [...new Set([...Object.keys(config.jobs), ...withTasks])].sort();

/** One request's view of the state, each part read at most once. */
export class ApiView {
  private tree?: Promise<NodeTree>;
  private readonly tasks = new Map<string, Promise<TaskItem[]>>();
  private allJobs?: Promise<string[]>;
  private withItems?: Promise<ReadonlySet<string>>;

  constructor(
    readonly deps: ApiDeps,
    readonly current: CurrentConfig,
  ) {}

  get config(): Config {
    return this.current.config;
  }

  nodeTree(): Promise<NodeTree> {
    this.tree ??= loadTree(this.deps, this.config);
    return this.tree;
  }

  /** The jobs that ever had task items (a set kept by every start), read once. */
  private jobsHavingItems(): Promise<ReadonlySet<string>> {
    this.withItems ??= readJobsWithTasks(this.deps.store).then((jobs) => new Set(jobs));
    return this.withItems;
  }

  jobsWithItems(): Promise<string[]> {
    this.allJobs ??= this.jobsHavingItems().then((withTasks) => withConfigured(this.config, withTasks));
    return this.allJobs;
  }

  /**
   * Task items of these jobs (each job's partition read once per view, and only for jobs that
   * ever had items: a page of 100 jobs that never ran reads one item, not 100 partitions).
   */
  async tasksOf(jobs: readonly string[]): Promise<TaskItem[]> {
    const missing = jobs.filter((job) => !this.tasks.has(job));
    if (missing.length > 0) {
      const read = this.jobsHavingItems().then((having) =>
        readTasks(
          this.deps.store,
          missing.filter((job) => having.has(job)),
        ),
      );
      for (const job of missing)
        this.tasks.set(
          job,
          read.then((items) => items.filter((t) => t.job === job)),
        );
    }
    return (await Promise.all(jobs.map((job) => this.tasks.get(job) ?? Promise.resolve([])))).flat();
  }
}
