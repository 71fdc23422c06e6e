// The `manual` node source (ManualFetcher.cpp): prefs map a node name to its
// children, given as one name, an array of names, or {"children": [...], "disabled": ...}.
// Names that are nobody's child hang under the instance; the rest follow at parent level + 1.
// Pure: prefs in, node specs out.
import { MAX_NODES, nodeNameProblem, overLimit } from "../config/limits";
import { INSTANCE_LEVEL } from "../model/config";
import type { NodeSpec } from "../model/tree";
import { describePref, NodeSourceError, type NodeSource, type NodeSourceContext } from "./source";

const SHAPES = 'a child name, an array of child names, or {"children": [...], "disabled": true}';

export function manualNodes(context: NodeSourceContext): NodeSpec[] {
  const childrenOf = new Map<string, string[]>();
  const disabled = new Set<string>();
  const hasParent = new Set<string>();
  for (const [name, value] of Object.entries(context.prefs)) {
    const children = childNames(name, value);
    // The mere presence of "disabled" disables the node, whatever its value (as in Bistro).
    if (isObject(value) && Object.hasOwn(value, "disabled")) disabled.add(name);
    childrenOf.set(name, children);
    for (const child of children) hasParent.add(child);
  }
  const roots = [...childrenOf.keys()].filter((name) => !hasParent.has(name));
  // Detects bad prefs, e.g. a cycle; a deployment that wants no nodes should list no source.
  if (roots.length === 0) throw new NodeSourceError("No top level nodes are defined");

  const maxLevel = context.levels.length;
  const nodes: NodeSpec[] = [];
  const add = (name: string, parent: string, level: number): void => {
    const levelName = context.levels[level - 1];
    if (levelName === undefined) {
      throw new NodeSourceError(`Node ${name} would be at level ${level} but the maximum is ${maxLevel}`);
    }
    // Children listed many times can multiply (a DAG of repeats): stop at the node limit.
    if (nodes.length >= MAX_NODES)
      throw new NodeSourceError(overLimit("the number of nodes", nodes.length + 1, "MAX_NODES"));
    nodes.push({ name, level: levelName, parent, enabled: !disabled.has(name) });
    // Depth is bounded by the number of levels, so this recursion is shallow (and stops cycles).
    for (const child of childrenOf.get(name) ?? []) add(child, name, level + 1);
  };
  for (const root of roots) add(root, context.instanceName, 1);
  return nodes;
}

function childNames(name: string, value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.map((child: unknown) => childName(name, child));
  if (isObject(value)) {
    if (!Object.hasOwn(value, "children")) return [];
    const children = value.children;
    if (!Array.isArray(children)) {
      throw new NodeSourceError(
        `Node ${name}: "children" must be an array of node names, found ${describePref(children)}`,
      );
    }
    return children.map((child: unknown) => childName(name, child));
  }
  throw new NodeSourceError(`Node ${name}: expected ${SHAPES}, found ${describePref(value)}`);
}

function childName(parent: string, child: unknown): string {
  if (typeof child !== "string") {
    throw new NodeSourceError(`Node ${parent}: child names must be strings, found ${describePref(child)}`);
  }
  return child;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export const manualSource: NodeSource = {
  name: "manual",
  fetch: manualNodes,
  // Manual prefs are the nodes themselves: building them is the check (linear in the prefs).
  checkPrefs: ({ levels, prefs }) => {
    for (const node of manualNodes({
      levels,
      prefs,
      instanceName: INSTANCE_LEVEL,
      count: 0,
      namesAt: () => [],
      now: 0,
    })) {
      const problem = nodeNameProblem(node.name);
      if (problem) throw new NodeSourceError(problem);
    }
  },
};
