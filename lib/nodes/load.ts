// One nodes refresh (Bistro's NodesLoader): run `nodes.node_sources` in order, check what each
// produced (known level, parent one level up, a name repeated only within a level), and build
// the NodeTree. Any failure
// fails the whole refresh with the failing entry named, as Bistro does.
import { MAX_NODES, nodeNameProblem, overLimit, tagsProblem } from "../config/limits";
import { INSTANCE_LEVEL, type Settings } from "../model/config";
import { NodeTreeBuilder, type NodeSpec, type NodeTree } from "../model/tree";
import { addTimeSource } from "./add-time";
import { emptySource } from "./empty";
import { manualSource } from "./manual";
import { rangeLabelSource } from "./range-label";
import { NodeSourceError, NodeSourceRegistry } from "./source";

/** A registry holding the pure built-in sources: manual, range_label, add_time, empty. */
export function builtinNodeSources(): NodeSourceRegistry {
  return new NodeSourceRegistry([manualSource, rangeLabelSource, addTimeSource, emptySource]);
}

export type NodeSettings = Pick<Settings, "levels" | "nodeSources">;

/**
 * Runs the sources and builds the tree (node 0 is the instance node, named `instanceName`).
 * Each source's nodes go straight into the tree as they come, so a source that yields them
 * lazily never holds a million node objects.
 */
export async function loadNodes(
  settings: NodeSettings,
  instanceName: string,
  now: number,
  registry: NodeSourceRegistry = builtinNodeSources(),
): Promise<NodeTree> {
  const builder = new NodeTreeBuilder(settings.levels, instanceName);
  const namesAt = (level: string) => (level === INSTANCE_LEVEL ? [instanceName] : builder.namesAt(level));
  for (const [index, entry] of settings.nodeSources.entries()) {
    const where = `bistro_settings.nodes.node_sources.${index}`;
    const source = registry.get(entry.source);
    if (!source) throw new NodeSourceError(`${where}: Invalid node source: ${entry.source}`);
    try {
      const context = {
        levels: settings.levels,
        instanceName,
        count: builder.size - 1,
        namesAt,
        now,
        prefs: entry.prefs,
      };
      const produced: Iterable<NodeSpec> = await source.fetch(context);
      // A list is counted before any of it is added; a lazy source is counted as it goes.
      const listed = Array.isArray(produced) ? (produced as readonly unknown[]).length : 0;
      if (builder.size - 1 + listed > MAX_NODES) {
        throw new NodeSourceError(overLimit("the number of nodes", builder.size - 1 + listed, "MAX_NODES"));
      }
      for (const spec of produced) {
        if (builder.size > MAX_NODES) {
          throw new NodeSourceError(overLimit("the number of nodes", builder.size, "MAX_NODES"));
        }
        const problem = specProblem(spec);
        if (problem) throw new NodeSourceError(problem);
        builder.add(spec);
      }
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new NodeSourceError(`${where} (${entry.source}): ${reason}`, { cause: error });
    }
  }
  return builder.finish();
}

/** Every node spec of one refresh (without the instance node), parents before children. */
export async function fetchNodeSpecs(
  settings: NodeSettings,
  instanceName: string,
  now: number,
  registry: NodeSourceRegistry = builtinNodeSources(),
): Promise<NodeSpec[]> {
  const tree = await loadNodes(settings, instanceName, now, registry);
  return Array.from({ length: tree.size - 1 }, (_, i) => {
    const node = i + 1;
    const spec: NodeSpec = {
      name: tree.names.at(node),
      level: tree.levels[tree.levelOf[node] as number] as string,
      parent: tree.names.at(tree.parentOf[node] as number),
      enabled: tree.enabled[node] === 1,
    };
    const tags = tree.tags[node];
    if (tags) spec.tags = [...tags];
    return spec;
  });
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

/** In `u` mode a surrogate pair is one code point, so this matches only a lone half. */
const LONE_SURROGATE = /\p{Surrogate}/u;

/** What the tree cannot check itself: the name's and tags' form and limits. */
function specProblem(spec: NodeSpec): string | undefined {
  if (typeof spec.name !== "string" || spec.name === "") return "a node has an empty name";
  // Names are kept and stored as UTF-8, which a lone surrogate has no form in.
  if (LONE_SURROGATE.test(spec.name)) return `Node ${JSON.stringify(spec.name)} has a name that is not valid Unicode`;
  const nameProblem = nodeNameProblem(spec.name);
  if (nameProblem) return nameProblem;
  if (spec.tags !== undefined && !(Array.isArray(spec.tags) && spec.tags.every((tag) => typeof tag === "string"))) {
    return `Node ${spec.name} has tags that are not an array of strings`;
  }
  const tagProblem = spec.tags === undefined ? undefined : tagsProblem(spec.tags);
  if (tagProblem) return `Node ${spec.name}: ${tagProblem}`;
  return undefined;
}
