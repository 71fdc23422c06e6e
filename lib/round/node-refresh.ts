// The nodes refresh (Bistro's NodesLoader loop, run by the round that holds the lease): the
// node sources run every `updateMs` (Bistro's --nodes_update_ms, 300 s), again after
// `retryMs` (--nodes_retry_ms, 30 s) when a refresh failed, and at once when the node
// settings change or a source's input moves (a push). The result is stored as the `tree`
// node set (writing nothing when unchanged); a failed refresh keeps the last good set and
// records the error for the `errors` handler. Between refreshes a round reuses its decoded
// tree while the stored version is the one it holds, so an idle round reads no nodes.
import { buildNodeTree, type NodeTree } from "../model/tree";
import type { Settings } from "../model/config";
import { jsonHash } from "../nodes/codec";
import { fetchNodeSpecs, nextNodeChangeSec } from "../nodes/load";
import type { NodeSourceRegistry } from "../nodes/source";
import type { StoreContext } from "../store/context";
import { readNodeSet, writeNodeSet } from "../store/node-sets";
import type { NodeRefreshMark } from "../store/scheduler-state";

export interface NodeRefreshTimings {
  /** Period of refreshes (Bistro's --nodes_update_ms). */
  updateMs: number;
  /** Wait after a failed refresh (Bistro's --nodes_retry_ms). */
  retryMs: number;
}

export const BISTRO_NODE_TIMINGS: NodeRefreshTimings = { updateMs: 300_000, retryMs: 30_000 };

/** Name of the stored node set holding the refreshed tree. */
export const TREE_SET = "tree";

/** A decoded tree kept by a warm process, valid while the stored version is `version`. */
export interface NodeTreeCache {
  version: number;
  /** The levels and instance the tree was built for. */
  shape: string;
  tree: NodeTree;
}

export interface NodeRefreshDeps {
  store: StoreContext;
  registry: NodeSourceRegistry;
  instanceName: string;
  timings: NodeRefreshTimings;
  cache?: NodeTreeCache;
}

export interface CurrentNodes {
  /** The tree to schedule on; null when no good set exists yet. */
  tree: NodeTree | null;
  mark: NodeRefreshMark;
  /** This round ran the sources. */
  refreshed: boolean;
  /** The refresh stored a new version. */
  changed: boolean;
  bytesWritten: number;
  /** When the next refresh is due (ms since the epoch). */
  nextDueMs: number;
  cache?: NodeTreeCache;
}

type NodeSettings = Pick<Settings, "levels" | "nodeSources">;

/** Identifies what a refresh depends on in the config. */
export function nodeSettingsHash(settings: NodeSettings, instanceName: string): string {
  return jsonHash({ levels: settings.levels, sources: settings.nodeSources, instanceName });
}

const shapeOf = (settings: NodeSettings, instanceName: string) => jsonHash({ levels: settings.levels, instanceName });

const sameInputs = (a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>) =>
  JSON.stringify(a) === JSON.stringify(b);

/** Whether a refresh is due (pure). */
export function refreshDue(
  mark: NodeRefreshMark | undefined,
  sourcesHash: string,
  inputs: Readonly<Record<string, string>>,
  nowMs: number,
  timings: NodeRefreshTimings,
): boolean {
  if (!mark) return true;
  if (mark.sourcesHash !== sourcesHash || !sameInputs(mark.inputs, inputs)) return true;
  return nowMs >= nextDueMs(mark, timings);
}

export function nextDueMs(mark: NodeRefreshMark, timings: NodeRefreshTimings): number {
  if (mark.error !== null) return mark.attemptedAtMs + timings.retryMs;
  // A time-based source (an `add_time` slot) changing before the period is up brings the refresh forward.
  return Math.min((mark.refreshedAtMs ?? 0) + timings.updateMs, mark.nextChangeAtMs ?? Infinity);
}

/** Input versions of the sources that report one; a failing check counts as a change. */
async function inputVersions(deps: NodeRefreshDeps, settings: NodeSettings): Promise<Record<string, string>> {
  const inputs: Record<string, string> = {};
  await Promise.all(
    settings.nodeSources.map(async (entry, index) => {
      const source = deps.registry.get(entry.source);
      if (!source?.inputVersion) return;
      inputs[String(index)] = await source.inputVersion(entry.prefs).catch(() => "unreadable");
    }),
  );
  return inputs;
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** The tree for this round, refreshing the nodes first when due. */
export async function currentNodes(
  deps: NodeRefreshDeps,
  settings: NodeSettings,
  previous: NodeRefreshMark | undefined,
  nowMs: number,
): Promise<CurrentNodes> {
  const sourcesHash = nodeSettingsHash(settings, deps.instanceName);
  const shape = shapeOf(settings, deps.instanceName);
  const inputs = await inputVersions(deps, settings);
  const base: NodeRefreshMark = previous ?? {
    sourcesHash,
    inputs,
    setVersion: null,
    setSourcesHash: null,
    refreshedAtMs: null,
    attemptedAtMs: nowMs,
    error: null,
  };
  if (refreshDue(previous, sourcesHash, inputs, nowMs, deps.timings)) {
    try {
      const specs = await fetchNodeSpecs(settings, deps.instanceName, nowMs / 1000, deps.registry);
      const tree = buildNodeTree(settings.levels, deps.instanceName, specs);
      const write = await writeNodeSet(deps.store, TREE_SET, specs, nowMs);
      const nextChangeSec = nextNodeChangeSec(settings, nowMs / 1000, deps.registry);
      const mark: NodeRefreshMark = {
        sourcesHash,
        inputs,
        setVersion: write.head.version,
        setSourcesHash: sourcesHash,
        refreshedAtMs: nowMs,
        attemptedAtMs: nowMs,
        error: null,
        ...(nextChangeSec === null ? {} : { nextChangeAtMs: nextChangeSec * 1000 }),
      };
      const cache = { version: write.head.version, shape, tree };
      return {
        tree,
        mark,
        refreshed: true,
        changed: write.changed,
        bytesWritten: write.bytesWritten,
        nextDueMs: nextDueMs(mark, deps.timings),
        cache,
      };
    } catch (error) {
      const mark: NodeRefreshMark = { ...base, sourcesHash, inputs, attemptedAtMs: nowMs, error: messageOf(error) };
      const stored = await storedTree(deps, settings, shape, mark);
      return {
        ...stored,
        mark,
        refreshed: true,
        changed: false,
        bytesWritten: 0,
        nextDueMs: nextDueMs(mark, deps.timings),
      };
    }
  }
  const stored = await storedTree(deps, settings, shape, base);
  return {
    ...stored,
    mark: base,
    refreshed: false,
    changed: false,
    bytesWritten: 0,
    nextDueMs: nextDueMs(base, deps.timings),
  };
}

/** The last good tree: the cached one when its version is current, else read and decoded. */
async function storedTree(
  deps: NodeRefreshDeps,
  settings: NodeSettings,
  shape: string,
  mark: NodeRefreshMark,
): Promise<{ tree: NodeTree | null; cache?: NodeTreeCache }> {
  const cache = deps.cache;
  if (cache && cache.shape === shape && mark.setVersion !== null && cache.version === mark.setVersion) {
    return { tree: cache.tree, cache };
  }
  const set = await readNodeSet(deps.store, TREE_SET);
  if (!set) return { tree: null };
  try {
    const tree = buildNodeTree(settings.levels, deps.instanceName, set.nodes);
    return { tree, cache: { version: set.head.version, shape, tree } };
  } catch {
    // The stored set no longer fits the levels (the settings changed and the new refresh failed).
    return { tree: null };
  }
}
