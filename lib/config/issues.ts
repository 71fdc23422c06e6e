// Config issues: JSON paths, human descriptions of offending values, and the sink that collects
// errors and warnings while a config is read. Every parser in lib/config reports through here so
// messages read the same everywhere ("expected X, found Y").
import type { ConfigIssue } from "../model/config";
import { MAX_REPORTED_ISSUES } from "./limits";

/** Path of a key below `parent` (`""` is the document root). */
export function childPath(parent: string, key: string | number): string {
  return parent === "" ? String(key) : `${parent}.${String(key)}`;
}

/** `path: message`, or the message alone for the document root. */
export function formatIssue(issue: ConfigIssue): string {
  return issue.path === "" ? issue.message : `${issue.path}: ${issue.message}`;
}

const MAX_SHOWN_STRING = 60;

/** How a value reads in a message: `the string "2"`, `2.5`, `null`, `an array`, `an object`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (typeof value === "string") {
    const shown = value.length > MAX_SHOWN_STRING ? `${value.slice(0, MAX_SHOWN_STRING)}...` : value;
    return `the string ${JSON.stringify(shown)}`;
  }
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return value.length === 0 ? "an empty array" : "an array";
  if (typeof value === "object") return "an object";
  return typeof value;
}

/** Names listed by `oneOf`; a longer list is abbreviated so messages stay short. */
const SHOWN_NAMES = 20;

/** `"a", "b" or "c"`: a list of allowed names for a message. */
export function oneOf(names: readonly string[]): string {
  if (names.length > SHOWN_NAMES) {
    const shown = names.slice(0, SHOWN_NAMES).map((name) => JSON.stringify(name));
    return `${shown.join(", ")}, ... (${names.length} in all)`;
  }
  const quoted = names.map((name) => JSON.stringify(name));
  if (quoted.length <= 1) return quoted.join("");
  return `${quoted.slice(0, -1).join(", ")} or ${quoted[quoted.length - 1] ?? ""}`;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Errors and warnings found while reading one document (or one job). */
export class IssueSink {
  readonly errors: ConfigIssue[] = [];
  readonly warnings: ConfigIssue[] = [];

  error(path: string, message: string, value?: unknown): void {
    this.errors.push(makeIssue(path, message, value));
  }

  warn(path: string, message: string, value?: unknown): void {
    this.warnings.push(makeIssue(path, message, value));
  }
}

function makeIssue(path: string, message: string, value: unknown): ConfigIssue {
  return value === undefined ? { path, message } : { path, message, value: copyJson(value) };
}

/** Same path and message: the same problem (used to keep re-parsed `errors` from growing). */
const issueKey = (issue: ConfigIssue) => `${issue.path}\u0000${issue.message}`;

/** `issues` followed by those of `more` not already present (linear: keyed by path and message). */
export function mergeIssues(issues: readonly ConfigIssue[], more: readonly ConfigIssue[]): ConfigIssue[] {
  const merged = [...issues];
  const seen = new Set(issues.map(issueKey));
  for (const issue of more) {
    const key = issueKey(issue);
    if (seen.has(key)) continue;
    seen.add(key);
    merged.push(issue);
  }
  return merged;
}

/**
 * At most MAX_REPORTED_ISSUES issues: the first ones, then one issue counting the rest, so an
 * answer about a huge broken input stays small.
 */
export function capIssues(issues: readonly ConfigIssue[]): ConfigIssue[] {
  if (issues.length <= MAX_REPORTED_ISSUES) return [...issues];
  const kept = issues.slice(0, MAX_REPORTED_ISSUES - 1);
  const more = issues.length - kept.length;
  return [
    ...kept,
    {
      path: "",
      message: `...and ${more} more problems not listed (at most ${MAX_REPORTED_ISSUES} are: MAX_REPORTED_ISSUES)`,
    },
  ];
}

/**
 * Sets `record[key]` as an own property even for keys like `__proto__`, which plain assignment
 * would treat as the prototype. Config keys come from users, so every record built from them
 * goes through here (or Object.fromEntries, which is equally safe).
 */
export function putEntry<T>(record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * A deep copy of a JSON value kept verbatim in the model (job `config`, source `prefs`), so the
 * model never aliases its input. -0 becomes 0: JSON.parse yields -0 for "-0", but it serializes as 0.
 */
export function copyJson(value: unknown): unknown {
  if (typeof value === "number") return Object.is(value, -0) ? 0 : value;
  if (Array.isArray(value)) return value.map(copyJson);
  if (isPlainObject(value)) {
    const copy: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) putEntry(copy, key, copyJson(item));
    return copy;
  }
  return value;
}
