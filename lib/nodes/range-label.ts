// The `range_label` node source (RangeLabelFetcher.cpp): for each node of
// `parent_level`, children numbered `start`..`end` (inclusive), named by `format` with the
// placeholders {parent}, {i}, {start}, {end}. Pure: prefs and earlier nodes in, node specs out.
import { MAX_NODES, nodeNameProblem, overLimit } from "../config/limits";
import type { NodeSpec } from "../model/tree";
import { compileFormat } from "./format";
import { describePref, levelBelowParents, NodeSourceError, type NodeSource, type NodeSourceContext } from "./source";

const DEFAULT_FORMAT = "{parent}__{i}";
const PLACEHOLDERS = ["parent", "i", "start", "end"] as const;
type Placeholder = (typeof PLACEHOLDERS)[number];

interface RangePrefs {
  start: number;
  end: number;
  render: (values: Readonly<Record<Placeholder, string>>) => string;
  enabled: boolean;
}

/** Reads and checks the prefs, before anything is allocated: a typo such as `"end": 1e9` fails here. */
function readRangePrefs(prefs: Readonly<Record<string, unknown>>): RangePrefs {
  const start = integerPref(prefs.start, "start");
  const end = integerPref(prefs.end, "end");
  const format = prefs.format === undefined ? DEFAULT_FORMAT : prefs.format;
  if (typeof format !== "string") throw new NodeSourceError(`"format" must be a string`);
  const render = compileFormat(format, PLACEHOLDERS);
  const enabled = prefs.enabled === undefined ? true : booleanPref(prefs.enabled, "enabled");
  const perParent = Math.max(0, end - start + 1);
  if (perParent > MAX_NODES) {
    throw new NodeSourceError(
      overLimit(`range_label would create ${perParent} nodes per parent: that`, perParent, "MAX_NODES"),
    );
  }
  return { start, end, render, enabled };
}

/** The source's nodes, made one at a time (a million are never held at once). */
export function* rangeLabelSpecs(context: NodeSourceContext): Generator<NodeSpec> {
  const { start, end, render, enabled } = readRangePrefs(context.prefs);
  const { level, parents } = levelBelowParents(context);
  const count = Math.max(0, end - start + 1) * parents.length;
  if (count + context.count > MAX_NODES) {
    throw new NodeSourceError(
      overLimit(
        `range_label would bring the nodes to ${count + context.count}: that`,
        count + context.count,
        "MAX_NODES",
      ),
    );
  }
  for (const parent of parents) {
    for (let i = start; i <= end; i++) {
      const name = render({ parent, i: String(i), start: String(start), end: String(end) });
      // Checked as each name is made, so a long format fails at its first node, not after a million.
      const problem = nodeNameProblem(name);
      if (problem) throw new NodeSourceError(problem);
      yield { name, level, parent, enabled };
    }
  }
}

export function rangeLabelNodes(context: NodeSourceContext): NodeSpec[] {
  return [...rangeLabelSpecs(context)];
}

/** An integer, or a string holding one (Bistro converts, and its own tests pass strings). */
function integerPref(value: unknown, key: string): number {
  if (value === undefined) throw new NodeSourceError(`"${key}" is required: an integer`);
  const number = typeof value === "string" && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof number !== "number" || !Number.isSafeInteger(number)) {
    throw new NodeSourceError(`"${key}" must be an integer, found ${describePref(value)}`);
  }
  return number;
}

const TRUE_WORDS = ["true", "1", "yes", "on"];
const FALSE_WORDS = ["false", "0", "no", "off"];

/** A boolean, or a string such as "false" (Bistro converts). */
function booleanPref(value: unknown, key: string): boolean {
  if (typeof value === "boolean") return value;
  if (typeof value === "string") {
    const word = value.trim().toLowerCase();
    if (TRUE_WORDS.includes(word)) return true;
    if (FALSE_WORDS.includes(word)) return false;
  }
  throw new NodeSourceError(`"${key}" must be true or false, found ${describePref(value)}`);
}

export const rangeLabelSource: NodeSource = {
  name: "range_label",
  fetch: rangeLabelSpecs,
  checkPrefs: ({ prefs }) => {
    readRangePrefs(prefs);
  },
};
