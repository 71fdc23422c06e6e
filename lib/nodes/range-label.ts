// The `range_label` node source (BISTRO.md §3.2, RangeLabelFetcher.cpp): for each node of
// `parent_level`, children numbered `start`..`end` (inclusive), named by `format` with the
// placeholders {parent}, {i}, {start}, {end}. Pure: prefs and earlier nodes in, node specs out.
import type { NodeSpec } from "../model/tree";
import { compileFormat } from "./format";
import { describePref, levelBelowParents, NodeSourceError, type NodeSource, type NodeSourceContext } from "./source";

const DEFAULT_FORMAT = "{parent}__{i}";
const PLACEHOLDERS = ["parent", "i", "start", "end"] as const;
/** Guards against a typo such as `"end": 1e9` exhausting memory. */
export const MAX_RANGE_LABEL_NODES = 10_000_000;

export function rangeLabelNodes(context: NodeSourceContext): NodeSpec[] {
  const { prefs } = context;
  const start = integerPref(prefs.start, "start");
  const end = integerPref(prefs.end, "end");
  const format = prefs.format === undefined ? DEFAULT_FORMAT : prefs.format;
  if (typeof format !== "string") throw new NodeSourceError(`"format" must be a string`);
  const render = compileFormat(format, PLACEHOLDERS);
  const enabled = prefs.enabled === undefined ? true : booleanPref(prefs.enabled, "enabled");
  const { level, parents } = levelBelowParents(context);
  const count = Math.max(0, end - start + 1) * parents.length;
  if (count > MAX_RANGE_LABEL_NODES) {
    throw new NodeSourceError(`range_label would create ${count} nodes; the limit is ${MAX_RANGE_LABEL_NODES}`);
  }
  const nodes: NodeSpec[] = [];
  for (const parent of parents) {
    for (let i = start; i <= end; i++) {
      const name = render({ parent, i: String(i), start: String(start), end: String(end) });
      nodes.push({ name, level, parent, enabled });
    }
  }
  return nodes;
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

export const rangeLabelSource: NodeSource = { name: "range_label", fetch: rangeLabelNodes };
