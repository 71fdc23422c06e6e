// Property tests for the config parser: it never throws, whatever it is given, every issue it
// reports is well formed, and whatever it accepts survives a serialize/parse round trip.
import fc from "fast-check";
import { parseConfig, serializeConfig } from "../../lib/config";
import type { ConfigIssue } from "../../lib/model/config";
import { bistroFixture } from "../helpers/config";

function wellFormed(issues: readonly ConfigIssue[]): boolean {
  return issues.every(
    (issue) => typeof issue.path === "string" && typeof issue.message === "string" && issue.message !== "",
  );
}

function checkResult(input: unknown): void {
  const result = parseConfig(input);
  if (!result.ok) {
    expect(result.errors.length).toBeGreaterThan(0);
    expect(wellFormed(result.errors)).toBe(true);
    expect(wellFormed(result.warnings)).toBe(true);
    return;
  }
  expect(wellFormed(result.config.warnings)).toBe(true);
  for (const job of Object.values(result.config.jobs)) expect(wellFormed(job.errors)).toBe(true);
  const reread = parseConfig(JSON.parse(JSON.stringify(serializeConfig(result.config))));
  if (!reread.ok) throw new Error("a serialized config was rejected");
  expect(reread.config.settings).toEqual(result.config.settings);
  for (const [name, job] of Object.entries(result.config.jobs)) {
    const again = reread.config.jobs[name];
    if (job.errors.length === 0) {
      expect(again).toEqual(job);
    } else {
      // A broken job stays broken and keeps its errors (new ones may join: dropped array items
      // shift the indexes in later error paths).
      expect(again?.errors).toEqual(expect.arrayContaining(job.errors));
    }
  }
}

type Path = (string | number)[];

/** Every path to a value inside a JSON document, the root included. */
function allPaths(value: unknown, prefix: Path = []): Path[] {
  const paths: Path[] = [prefix];
  if (Array.isArray(value)) value.forEach((item: unknown, i) => paths.push(...allPaths(item, [...prefix, i])));
  else if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) paths.push(...allPaths(item, [...prefix, key]));
  }
  return paths;
}

/** A copy of `document` with the value at `path` replaced (or deleted when `replacement` is undefined). */
function mutate(document: unknown, path: Path, replacement: unknown): unknown {
  const copy = structuredClone(document);
  if (path.length === 0) return replacement;
  let parent: unknown = copy;
  for (const key of path.slice(0, -1)) parent = (parent as Record<string | number, unknown>)[key];
  const last = path[path.length - 1]!;
  const container = parent as Record<string | number, unknown>;
  if (replacement === undefined) {
    if (Array.isArray(container)) container.splice(Number(last), 1);
    else Reflect.deleteProperty(container, last);
  } else {
    container[last] = replacement;
  }
  return copy;
}

const FIXTURES = ["simple.json", "db-hosts.json", "legacy-node-source.json", "invalid-dependency-cycle.json"].map(
  (name) => JSON.parse(bistroFixture(name)) as unknown,
);

/** Values a careless edit might put in a config. */
const plausibleValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(-1, 0, 0.5, 1, 2.5, 1e20, "", "db", "instance", "worker", "repeat", "fail", "(", true, null, [], {}),
  fc.constantFrom(["fail"], [5, "repeat"], [3, 2], ["host", "db"], { limit: 1, default: 1 }, { whitelist_regex: "[" }),
);

describe("parseConfig never throws", () => {
  it("on arbitrary JSON values", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        checkResult(value);
      }),
      { numRuns: 300 },
    );
  });

  it("on arbitrary text", () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        checkResult(text);
      }),
      { numRuns: 200 },
    );
  });

  it("on documents with bistro_settings and jobs made of arbitrary JSON", () => {
    const document = fc.record({
      bistro_settings: fc.oneof(fc.jsonValue(), fc.constant({ nodes: { levels: ["a"] }, resources: {} })),
      "bistro_job->x": fc.jsonValue(),
      "bistro_job->__proto__": fc.jsonValue(),
    });
    fc.assert(
      fc.property(document, (value) => {
        checkResult(value);
      }),
      { numRuns: 300 },
    );
  });

  it("on random mutations of valid configs, and round-trips whatever it accepts", () => {
    const edits = fc.array(fc.tuple(fc.nat(), fc.option(plausibleValue, { nil: undefined })), {
      minLength: 1,
      maxLength: 4,
    });
    fc.assert(
      fc.property(fc.constantFrom(...FIXTURES), edits, (document, steps) => {
        let current = document;
        for (const [pick, replacement] of steps) {
          const paths = allPaths(current);
          current = mutate(current, paths[pick % paths.length]!, replacement);
          checkResult(current);
        }
      }),
      { numRuns: 400 },
    );
  });
});
