// Save-time checks of `nodes.node_sources`: every entry must name a source this deployment
// implements (a registry lookup, so sources added to the registry pass without changes here),
// and sources that can check their prefs cheaply do so. A config failing these is refused, so
// the running config keeps running instead of being replaced by one that cannot load nodes.
import type { ConfigIssue, Settings } from "../model/config";
import { NodeSourceError, type NodeSourceRegistry } from "./source";

const MAX_SHOWN = 60;

/** Issues of the config's node sources (empty when all are fine). */
export function nodeSourceIssues(
  settings: Pick<Settings, "levels" | "nodeSources">,
  registry: NodeSourceRegistry,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const [index, entry] of settings.nodeSources.entries()) {
    const path = `bistro_settings.nodes.node_sources.${index}`;
    const source = registry.get(entry.source);
    if (!source) {
      const name = entry.source.length > MAX_SHOWN ? `${entry.source.slice(0, MAX_SHOWN)}...` : entry.source;
      issues.push({
        path: `${path}.source`,
        message: `unknown node source ${JSON.stringify(name)}; this deployment implements ${registry
          .names()
          .map((known) => JSON.stringify(known))
          .join(", ")}`,
      });
      continue;
    }
    try {
      source.checkPrefs?.({ levels: settings.levels, prefs: entry.prefs });
    } catch (error) {
      if (!(error instanceof NodeSourceError)) throw error;
      issues.push({ path: `${path}.prefs`, message: `${entry.source}: ${error.message}` });
    }
  }
  return issues;
}
