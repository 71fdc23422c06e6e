// Fuzzing the config parser the way a careless or hostile user would: thousands of mutated
// Bistro configs (the fixtures under events/bistro/), with edits that break types, pile up
// jobs, nest deeply, lengthen names and formats, and name odd keys (`__proto__`). Every call
// must end in a result (accepted or a list of issues), never an exception, and none may take
// long: each call's CPU time is measured, and the count of calls over 1 s must stay 0 (CPU
// time, not wall time, so a loaded machine does not fail the test).
import fc from "fast-check";
import { parseConfig } from "../../lib/config";
import { MAX_JSON_DEPTH } from "../../lib/config/limits";
import { builtinNodeSources, nodeSourceIssues } from "../../lib/nodes";
import { bistroFixture } from "../helpers/config";

type Path = (string | number)[];

function allPaths(value: unknown, prefix: Path = []): Path[] {
  const paths: Path[] = [prefix];
  if (Array.isArray(value)) value.forEach((item: unknown, i) => paths.push(...allPaths(item, [...prefix, i])));
  else if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) paths.push(...allPaths(item, [...prefix, key]));
  }
  return paths;
}

function containerAt(document: unknown, path: Path): Record<string | number, unknown> | undefined {
  let at: unknown = document;
  for (const key of path) at = (at as Record<string | number, unknown>)[key];
  return typeof at === "object" && at !== null ? (at as Record<string | number, unknown>) : undefined;
}

function nested(depth: number): unknown {
  let value: unknown = "leaf";
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { k: value };
  return value;
}

/** Values a careless or hostile edit might put anywhere in a config. */
const hostileValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(
    -1,
    0,
    1e308,
    "",
    "(a+)+$",
    "(?=x)",
    "[",
    "__proto__",
    "constructor",
    "{i:x>200000000}",
    "{parent}{parent}{parent}{parent}{parent}{parent}{parent}{parent}{parent}{parent}{parent}{parent}{parent}{parent}{parent}{parent}{parent}",
    "x".repeat(20_000),
    "#%".repeat(2_000),
    { source: "__proto__", prefs: {} },
    { source: "range_label", prefs: { parent_level: "instance", start: 0, end: 1e9 } },
    { source: "range_label", prefs: { parent_level: "instance", start: 0, end: 3, format: "{i:x>200000000}" } },
    { whitelist_regex: "(a+)+$", blacklist_regex: "(a)\\1" },
    Array.from({ length: 500 }, (_, i) => `item${i}`),
  ),
  fc.integer({ min: MAX_JSON_DEPTH - 5, max: MAX_JSON_DEPTH * 3 }).map(nested),
);

/** One edit of a document: replace or delete a value, add keys, or repeat jobs. */
const edit = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), pick: fc.nat(), value: fc.option(hostileValue, { nil: undefined }) }),
  fc.record({
    kind: fc.constant("key" as const),
    pick: fc.nat(),
    key: fc.constantFrom("__proto__", "constructor", "toString", "hasOwnProperty", "x".repeat(5_000), ""),
    value: hostileValue,
  }),
  fc.record({ kind: fc.constant("jobs" as const), pick: fc.nat(), count: fc.integer({ min: 1, max: 300 }) }),
);

type Edit = typeof edit extends fc.Arbitrary<infer T> ? T : never;

function apply(document: unknown, step: Edit): unknown {
  const copy = structuredClone(document);
  if (typeof copy !== "object" || copy === null) return step.kind === "set" ? step.value : copy;
  const paths = allPaths(copy);
  const path = paths[step.pick % paths.length]!;
  if (step.kind === "jobs") {
    const root = copy as Record<string, unknown>;
    const template = Object.values(root)[step.pick % Math.max(1, Object.keys(root).length)];
    for (let i = 0; i < step.count; i++) {
      Object.defineProperty(root, `bistro_job->fuzz${i}`, { value: template, enumerable: true, writable: true });
    }
    return copy;
  }
  if (step.kind === "key") {
    const container = containerAt(copy, path);
    if (container && !Array.isArray(container)) {
      Object.defineProperty(container, step.key, { value: step.value, enumerable: true, writable: true });
    }
    return copy;
  }
  if (path.length === 0) return step.value;
  const parent = containerAt(copy, path.slice(0, -1));
  const last = path[path.length - 1]!;
  if (!parent) return copy;
  if (step.value === undefined) {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else Reflect.deleteProperty(parent, last);
  } else {
    Object.defineProperty(parent, last, { value: step.value, enumerable: true, writable: true, configurable: true });
  }
  return copy;
}

const FIXTURES = [
  "simple.json",
  "db-hosts.json",
  "legacy-node-source.json",
  "invalid-dependency-cycle.json",
  "test_config.json",
].map((name) => JSON.parse(bistroFixture(name)) as unknown);

const CPU_BOUND_MS = 1_000;
const registry = builtinNodeSources();

/** CPU milliseconds (user + system) of this process. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

describe("config parser fuzz", () => {
  it("thousands of mutated Bistro configs: a result every time, no exception, no call over 1 s of CPU", () => {
    let calls = 0;
    let slowCalls = 0;
    let accepted = 0;
    const check = (input: unknown) => {
      const started = cpuMs();
      const result = parseConfig(input);
      if (result.ok) {
        accepted++;
        nodeSourceIssues(result.config.settings, registry);
      } else {
        expect(result.errors.length).toBeGreaterThan(0);
      }
      calls++;
      if (cpuMs() - started > CPU_BOUND_MS) slowCalls++;
    };
    fc.assert(
      fc.property(fc.constantFrom(...FIXTURES), fc.array(edit, { minLength: 1, maxLength: 3 }), (document, steps) => {
        let current = document;
        for (const step of steps) {
          current = apply(current, step);
          check(current);
          check(JSON.stringify(current));
        }
      }),
      { numRuns: Number(process.env.SOUS_FUZZ_RUNS ?? 600), seed: 12 },
    );
    expect(calls).toBeGreaterThan(Number(process.env.SOUS_FUZZ_RUNS ?? 600) * 2);
    expect(accepted).toBeGreaterThan(0);
    expect(slowCalls).toBe(0);
  }, 600_000);
});
