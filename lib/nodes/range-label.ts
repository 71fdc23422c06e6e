// The `range_label` node source (BISTRO.md §3.2, RangeLabelFetcher.cpp): for each node of
// `parent_level`, children numbered `start`..`end` (inclusive), named by `format` with the
// placeholders {parent}, {i}, {start}, {end}. Pure: prefs and earlier nodes in, node specs out.
import {
  MAX_NODES,
  MAX_RANGE_LABEL_PLACEHOLDERS,
  MAX_RANGE_LABEL_WIDTH,
  nodeNameProblem,
  overLimit,
} from "../config/limits";
import type { NodeSpec } from "../model/tree";
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
  const render = compileFormat(format);
  const enabled = prefs.enabled === undefined ? true : booleanPref(prefs.enabled, "enabled");
  const perParent = Math.max(0, end - start + 1);
  if (perParent > MAX_NODES) {
    throw new NodeSourceError(
      overLimit(`range_label would create ${perParent} nodes per parent: that`, perParent, "MAX_NODES"),
    );
  }
  return { start, end, render, enabled };
}

export function rangeLabelNodes(context: NodeSourceContext): NodeSpec[] {
  const { start, end, render, enabled } = readRangePrefs(context.prefs);
  const { level, parents } = levelBelowParents(context);
  const count = Math.max(0, end - start + 1) * parents.length;
  if (count + context.nodes.length > MAX_NODES) {
    throw new NodeSourceError(
      overLimit(
        `range_label would bring the nodes to ${count + context.nodes.length}: that`,
        count + context.nodes.length,
        "MAX_NODES",
      ),
    );
  }
  const nodes: NodeSpec[] = [];
  for (const parent of parents) {
    for (let i = start; i <= end; i++) {
      const name = render({ parent, i: String(i), start: String(start), end: String(end) });
      // Checked as each name is made, so a long format fails at its first node, not after a million.
      const problem = nodeNameProblem(name);
      if (problem) throw new NodeSourceError(problem);
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

type Part = string | { key: Placeholder; fill: string; align: "<" | ">" | "^" | null; width: number };

/**
 * Compiles a folly-style format: `{name}` or `{name:[[fill]align]width}`, `{{`/`}}` for literal
 * braces. Compiled once, so a bad format fails before any node is made.
 */
export function compileFormat(format: string): (values: Readonly<Record<Placeholder, string>>) => string {
  const parts: Part[] = [];
  let literal = "";
  for (let at = 0; at < format.length; at++) {
    const char = format.charAt(at);
    if ((char === "{" || char === "}") && format[at + 1] === char) {
      literal += char;
      at++;
      continue;
    }
    if (char === "}") throw new NodeSourceError(`"format" has an unmatched "}" at character ${at}: ${shown(format)}`);
    if (char !== "{") {
      literal += char;
      continue;
    }
    const close = format.indexOf("}", at);
    if (close < 0) throw new NodeSourceError(`"format" has an unmatched "{" at character ${at}: ${shown(format)}`);
    if (literal !== "") parts.push(literal);
    literal = "";
    parts.push(parsePlaceholder(format.slice(at + 1, close), format));
    at = close;
  }
  if (literal !== "") parts.push(literal);
  const placeholders = parts.filter((part) => typeof part !== "string").length;
  if (placeholders > MAX_RANGE_LABEL_PLACEHOLDERS) {
    throw new NodeSourceError(
      overLimit('"format" has too many placeholders:', placeholders, "MAX_RANGE_LABEL_PLACEHOLDERS"),
    );
  }
  return (values) => parts.map((part) => (typeof part === "string" ? part : pad(values[part.key], part))).join("");
}

function parsePlaceholder(body: string, format: string): Part {
  const colon = body.indexOf(":");
  const key = colon < 0 ? body : body.slice(0, colon);
  if (!(PLACEHOLDERS as readonly string[]).includes(key)) {
    throw new NodeSourceError(
      `"format" uses unknown placeholder {${shown(key)}}; known: {parent}, {i}, {start}, {end} (${shown(format)})`,
    );
  }
  if (colon < 0) return { key: key as Placeholder, fill: " ", align: null, width: 0 };
  const spec = /^(?:(.)?([<>^]))?(\d+)$/u.exec(body.slice(colon + 1));
  if (!spec) {
    throw new NodeSourceError(`"format" spec {${shown(body)}} is not supported; use [[fill]align]width, e.g. {i:0>3}`);
  }
  const align = (spec[2] ?? null) as "<" | ">" | "^" | null;
  const widthText = spec[3] ?? "0";
  // Compared as text first: a width of a million digits must not become a number at all.
  const width = widthText.length > 12 ? Infinity : Number(widthText);
  if (width > MAX_RANGE_LABEL_WIDTH) {
    throw new NodeSourceError(
      `"format" width in {${shown(body)}} is over the limit of ${MAX_RANGE_LABEL_WIDTH} (MAX_RANGE_LABEL_WIDTH)`,
    );
  }
  return { key: key as Placeholder, fill: spec[1] ?? " ", align, width };
}

/** At most 60 characters of a user string, for messages. */
function shown(text: string): string {
  return text.length > 60 ? `${text.slice(0, 60)}...` : text;
}

function pad(value: string, part: Exclude<Part, string>): string {
  const missing = part.width - value.length;
  if (missing <= 0) return value;
  const fill = (n: number): string => part.fill.repeat(n);
  // Strings align left by default, as in folly::format.
  if (part.align === ">") return fill(missing) + value;
  if (part.align === "^") return fill(Math.floor(missing / 2)) + value + fill(Math.ceil(missing / 2));
  return value + fill(missing);
}

export const rangeLabelSource: NodeSource = {
  name: "range_label",
  fetch: rangeLabelNodes,
  checkPrefs: ({ prefs }) => {
    readRangePrefs(prefs);
  },
};
