// One nodes refresh (Bistro's NodesLoader): run `nodes.node_sources` in order, check what each
// produced (known level, parent one level up, no name twice), and build the NodeTree. Any failure
// fails the whole refresh with the failing entry named, as Bistro does.
import { MAX_NODES, nodeNameProblem, overLimit, tagsProblem } from "../config/limits";
import type { Settings } from "../model/config";
import { buildNodeTree, type NodeSpec, type NodeTree } from "../model/tree";
import { addTimeSource } from "./add-time";
import { emptySource } from "./empty";
import { manualSource } from "./manual";
import { rangeLabelSource } from "./range-label";
import { levelIndex, NodeSourceError, NodeSourceRegistry } from "./source";

/** A registry holding the pure built-in sources: manual, range_label, add_time, empty. */
export function builtinNodeSources(): NodeSourceRegistry {
  return new NodeSourceRegistry([manualSource, rangeLabelSource, addTimeSource, emptySource]);
}

export type NodeSettings = Pick<Settings, "levels" | "nodeSources">;

/** Every node spec of one refresh (without the instance node), parents before children. */
export async function fetchNodeSpecs(
  settings: NodeSettings,
  instanceName: string,
  now: number,
  registry: NodeSourceRegistry = builtinNodeSources(),
): Promise<NodeSpec[]> {
  const nodes: NodeSpec[] = [];
  const levelOf = new Map<string, number>([[instanceName, 0]]);
  for (const [index, entry] of settings.nodeSources.entries()) {
    const where = `bistro_settings.nodes.node_sources.${index}`;
    const source = registry.get(entry.source);
    if (!source) throw new NodeSourceError(`${where}: Invalid node source: ${entry.source}`);
    let produced: NodeSpec[];
    try {
      produced = await source.fetch({ levels: settings.levels, instanceName, nodes, now, prefs: entry.prefs });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new NodeSourceError(`${where} (${entry.source}): ${reason}`, { cause: error });
    }
    if (nodes.length + produced.length > MAX_NODES) {
      throw new NodeSourceError(
        `${where} (${entry.source}): ${overLimit("the number of nodes", nodes.length + produced.length, "MAX_NODES")}`,
      );
    }
    for (const spec of produced) {
      const problem = checkSpec(spec, settings.levels, levelOf);
      if (problem) throw new NodeSourceError(`${where} (${entry.source}): ${problem}`);
      levelOf.set(spec.name, levelIndex(settings.levels, spec.level));
      nodes.push(spec);
    }
  }
  return nodes;
}

/**
 * When the time-based sources' output next changes by itself (Unix seconds after `now`), or null.
 * A source whose prefs it cannot read counts as never: its fetch reports the problem.
 */
export function nextNodeChangeSec(
  settings: NodeSettings,
  now: number,
  registry: NodeSourceRegistry = builtinNodeSources(),
): number | null {
  let next: number | null = null;
  for (const entry of settings.nodeSources) {
    const source = registry.get(entry.source);
    if (!source?.nextChange) continue;
    let at: number | null = null;
    try {
      at = source.nextChange({ prefs: entry.prefs, now });
    } catch {
      at = null;
    }
    if (at !== null && at > now && (next === null || at < next)) next = at;
  }
  return next;
}

/** Runs the sources and builds the tree (node 0 is the instance node, named `instanceName`). */
export async function loadNodes(
  settings: NodeSettings,
  instanceName: string,
  now: number,
  registry: NodeSourceRegistry = builtinNodeSources(),
): Promise<NodeTree> {
  const specs = await fetchNodeSpecs(settings, instanceName, now, registry);
  return buildNodeTree(settings.levels, instanceName, specs);
}

function checkSpec(
  spec: NodeSpec,
  levels: readonly string[],
  levelOf: ReadonlyMap<string, number>,
): string | undefined {
  if (typeof spec.name !== "string" || spec.name === "") return "a node has an empty name";
  const nameProblem = nodeNameProblem(spec.name);
  if (nameProblem) return nameProblem;
  const level = levelIndex(levels, spec.level);
  if (level <= 0) return `Node ${spec.name} has unknown level ${spec.level}`;
  // The same name under several parents of one level is a replica (Bistro allows it); not across levels.
  const earlier = levelOf.get(spec.name);
  if (earlier !== undefined && earlier !== level) {
    return `Node ${spec.name} is defined at levels ${earlier} and ${level}; a name may repeat only within one level`;
  }
  const parentLevel = levelOf.get(spec.parent);
  if (parentLevel === undefined) return `Node ${spec.name} has unknown parent ${spec.parent}`;
  if (parentLevel !== level - 1) {
    return `Node ${spec.name} at level ${spec.level} has parent ${spec.parent}, which is not one level up`;
  }
  if (spec.tags !== undefined && !(Array.isArray(spec.tags) && spec.tags.every((tag) => typeof tag === "string"))) {
    return `Node ${spec.name} has tags that are not an array of strings`;
  }
  const tagProblem = spec.tags === undefined ? undefined : tagsProblem(spec.tags);
  if (tagProblem) return `Node ${spec.name}: ${tagProblem}`;
  return undefined;
}
