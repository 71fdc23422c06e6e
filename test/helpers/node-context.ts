// A node-source context for unit tests, from the nodes earlier sources produced.
import type { NodeSpec } from "../../lib/model/tree";
import type { NodeSourceContext } from "../../lib/nodes/source";

export function nodeContext(fields: {
  levels: readonly string[];
  prefs: Readonly<Record<string, unknown>>;
  instanceName?: string;
  nodes?: readonly NodeSpec[];
  now?: number;
}): NodeSourceContext {
  const instanceName = fields.instanceName ?? "instance";
  const nodes = fields.nodes ?? [];
  return {
    levels: fields.levels,
    instanceName,
    count: nodes.length,
    namesAt: (level) =>
      level === "instance" ? [instanceName] : nodes.filter((node) => node.level === level).map((node) => node.name),
    now: fields.now ?? 0,
    prefs: fields.prefs,
  };
}
