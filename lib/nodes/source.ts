// The node-source contract (Bistro's NodeFetcher): each entry of
// `nodes.node_sources` names a source that adds nodes, run in order, later ones seeing what earlier
// ones produced. The registry maps names to sources so periodic, script and API-pushed sources
// plug in without the scheduler knowing. Pure: no I/O here.
import { INSTANCE_LEVEL } from "../model/config";
import type { NodeSpec } from "../model/tree";

export interface NodeSourceContext {
  /** The configured data levels, top first (no `instance`, no `worker`). */
  readonly levels: readonly string[];
  readonly instanceName: string;
  /** Nodes produced so far by the earlier sources of this refresh, parents before children. */
  readonly nodes: readonly NodeSpec[];
  /** Unix seconds of this refresh (for time-based sources). */
  readonly now: number;
  /** This entry's `prefs`. */
  readonly prefs: Readonly<Record<string, unknown>>;
}

export interface NodeSource {
  readonly name: string;
  /** New nodes, parents before children; throw NodeSourceError for bad prefs. */
  fetch(context: NodeSourceContext): Promise<NodeSpec[]> | NodeSpec[];
  /**
   * Checks prefs when a config is saved, without fetching (pure and cheap); throws
   * NodeSourceError. Sources without it accept any prefs at save time.
   */
  checkPrefs?(context: Pick<NodeSourceContext, "levels" | "prefs">): void;
  /**
   * Optional cheap check of what the source reads (e.g. a pushed set's hash): when it differs
   * from the value seen at the last refresh, the nodes are refreshed before their period is up.
   */
  inputVersion?(prefs: Readonly<Record<string, unknown>>): Promise<string>;
  /**
   * Failures the last fetch worked around rather than failing the refresh (a script that kept
   * its last good output); the `errors` handler shows them.
   */
  problems?(): readonly string[];
  /**
   * Time-based sources: the first Unix second after `now` at which a fetch with the same inputs
   * would produce different nodes (a slot opening or closing), or null if never. The refresh
   * that ran at `now` is then due again at that moment rather than at its period's end.
   */
  nextChange?(context: Pick<NodeSourceContext, "prefs" | "now">): number | null;
}

/** A refresh failed; any failure fails the whole refresh, as in Bistro. */
export class NodeSourceError extends Error {
  override readonly name = "NodeSourceError";
}

/** Name -> source. Register each name once ("Duplicate node source" otherwise). */
export class NodeSourceRegistry {
  private readonly sources = new Map<string, NodeSource>();

  constructor(sources: Iterable<NodeSource> = []) {
    for (const source of sources) this.register(source);
  }

  register(source: NodeSource): this {
    if (this.sources.has(source.name)) throw new NodeSourceError(`Duplicate node source: ${source.name}`);
    this.sources.set(source.name, source);
    return this;
  }

  get(name: string): NodeSource | undefined {
    return this.sources.get(name);
  }

  names(): string[] {
    return [...this.sources.keys()];
  }

  /** Every source's current problems, each prefixed with the source's name. */
  problems(): string[] {
    return [...this.sources.values()].flatMap((source) =>
      (source.problems?.() ?? []).map((problem) => `${source.name}: ${problem}`),
    );
  }
}

/** Level index of a level name: 0 for `instance`, 1.. for the configured levels, -1 if unknown. */
export function levelIndex(levels: readonly string[], name: string): number {
  if (name === INSTANCE_LEVEL) return 0;
  const index = levels.indexOf(name);
  return index < 0 ? -1 : index + 1;
}

/**
 * Bistro's getMyLevelAndParents: the required `parent_level` pref, the level just below it (which
 * must exist), and the names of every node currently at the parent level.
 */
export function levelBelowParents(context: NodeSourceContext): { level: string; parents: string[] } {
  const parentLevel = context.prefs.parent_level;
  if (typeof parentLevel !== "string") {
    throw new NodeSourceError(`"parent_level" is required: the name of the level above the new nodes`);
  }
  const parentIndex = levelIndex(context.levels, parentLevel);
  if (parentIndex < 0) {
    const known = [INSTANCE_LEVEL, ...context.levels].map((level) => `"${level}"`).join(", ");
    throw new NodeSourceError(`parent_level "${parentLevel}" is not a known level; levels are ${known}`);
  }
  const level = context.levels[parentIndex];
  if (level === undefined) {
    throw new NodeSourceError(
      `You must define at least ${parentIndex + 1} levels: nodes below "${parentLevel}" have no level`,
    );
  }
  const parents =
    parentIndex === 0
      ? [context.instanceName]
      : context.nodes.filter((node) => node.level === parentLevel).map((node) => node.name);
  return { level, parents };
}

/** A prefs value as it reads in an error message. */
export function describePref(value: unknown): string {
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return typeof value === "object" ? "an object" : typeof value;
}
