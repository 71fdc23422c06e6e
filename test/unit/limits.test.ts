// The input limits of issue "hostile input": each is refused with a message naming the limit,
// before the costly step (parsing, allocating, storing), and costs stay linear in input size.
import { parseConfig } from "../../lib/config";
import { nodeContext } from "../helpers/node-context";
import { filterRegex } from "../../lib/config/filters";
import {
  formatCount,
  jsonDepthExceeds,
  MAX_CONFIG_ENTRY_BYTES,
  MAX_JOB_NAME_BYTES,
  MAX_JOBS,
  MAX_JSON_DEPTH,
  MAX_NODES,
  MAX_NODE_NAME_BYTES,
  MAX_REGEX_CHARS,
  MAX_REPORTED_ISSUES,
  nodeNameProblem,
  tagsProblem,
  utf8Bytes,
} from "../../lib/config/limits";
import { compileUserRegex, USER_REGEX_ENGINE, UserRegexError } from "../../lib/config/regex";
import type { ConfigIssue } from "../../lib/model/config";
import { checkLogQueryLists } from "../../lib/api/logs";
import { ValidationError } from "../../lib/api/errors";
import {
  builtinNodeSources,
  compileFormat,
  loadNodes,
  NodeSourceRegistry,
  nodeSourceIssues,
  rangeLabelNodes,
} from "../../lib/nodes";
import { compileFilter, passesName } from "../../lib/scheduler/filters";
import { baseSettings, configDocument, parseRejected, parseValid } from "../helpers/config";

const settings = () => ({
  enabled: true,
  nodes: { levels: ["host"], node_sources: [{ source: "manual", prefs: { h1: [] } }] },
  resources: {},
});

function manyJobs(count: number, dependsOnNext = false): Record<string, unknown> {
  const document: Record<string, unknown> = { bistro_settings: settings() };
  for (let i = 0; i < count; i++) {
    document[`bistro_job->job${i}`] = {
      owner: "me",
      ...(dependsOnNext ? { depends_on: [`job${(i + 1) % count}`] } : {}),
    };
  }
  return document;
}

function cpuMs(run: () => void): number {
  const before = process.cpuUsage();
  run();
  const { user, system } = process.cpuUsage(before);
  return (user + system) / 1000;
}

const allIssues = (issues: readonly ConfigIssue[]) => issues.map((i) => `${i.path}: ${i.message}`).join("\n");

describe("user regexes run on a linear-time engine", () => {
  it("(a+)+$ on a long line completes, in filters and log searches alike", () => {
    expect(USER_REGEX_ENGINE).toBe("re2js");
    const line = `${"a".repeat(20_000)}!`;
    const regex = compileUserRegex("(a+)+$");
    expect(regex).not.toBeInstanceOf(RegExp);
    // A backtracking engine takes about 2^20000 steps here; this returns.
    expect(regex.test(line)).toBe(false);
    expect(regex.test("aaa")).toBe(true);
    const filter = compileFilter({
      whitelist: [],
      whitelistRegex: "(a+)+$",
      blacklist: [],
      blacklistRegex: null,
      tagWhitelist: [],
      fractionOfNodes: 1,
    });
    expect(filter.whitelistRegex).not.toBeInstanceOf(RegExp);
    expect(passesName(filter, "j", line)).toBe(false);
    expect(filterRegex("db1.").test("xdb12")).toBe(true);
  }, 120_000);

  it("refuses what RE2 does not support, and patterns over MAX_REGEX_CHARS", () => {
    expect(() => compileUserRegex("(a)\\1")).toThrow(UserRegexError);
    expect(() => compileUserRegex("(?=a)")).toThrow(/unsupported Perl syntax/);
    expect(() => compileUserRegex("x".repeat(MAX_REGEX_CHARS + 1))).toThrow(/MAX_REGEX_CHARS/);
    const job = parseValid(configDocument({ j: { owner: "o", filters: { host: { whitelist_regex: "(a)\\1" } } } })).jobs
      .j;
    expect(job?.errors[0]?.message).toMatch(/^invalid regular expression: /);
  });
});

describe("config parsing is linear in size", () => {
  it("16,000 trivial jobs cost about 8x what 2,000 do, not 64x (CPU time ratio, generous margin)", () => {
    const small = JSON.stringify(manyJobs(2_000));
    const large = JSON.stringify(manyJobs(16_000));
    parseConfig(small); // warm up the JIT
    const median = (text: string) => {
      const times = [0, 1, 2].map(() =>
        cpuMs(() => {
          expect(parseConfig(text).ok).toBe(true);
        }),
      );
      return times.sort((a, b) => a - b)[1]!;
    };
    const ratio = median(large) / Math.max(1, median(small));
    // Linear is about 8; the quadratic parser this replaced was above 60.
    expect(ratio).toBeLessThan(24);
  }, 300_000);

  it("reports a 4,000-job dependency cycle once: error text linear in the cycle, not quadratic", () => {
    const config = parseValid(manyJobs(4_000, true));
    const errors = Object.values(config.jobs).flatMap((job) => job.errors);
    expect(errors).toHaveLength(4_000);
    const described = errors.filter((e) => e.message.startsWith("depends_on cycle "));
    expect(described).toHaveLength(1);
    expect(described[0]!.message).toMatch(/job0 -> job1 -> .* -> \.\.\. \(4000 jobs\) -> job0/);
    const bytes = errors.reduce((n, e) => n + e.path.length + e.message.length, 0);
    expect(bytes).toBeLessThan(4_000 * 200);
    expect(JSON.stringify(config.jobs).length).toBeLessThan(20_000_000);
  });
});

describe("config limits name themselves", () => {
  it("JSON deeper than MAX_JSON_DEPTH: text or value, an issue and no RangeError", () => {
    const depth = 5_000;
    const text = `{"bistro_settings": ${"[".repeat(depth)}${"]".repeat(depth)}}`;
    expect(allIssues(parseRejected(text).errors)).toMatch(/MAX_JSON_DEPTH/);
    let value: unknown = 1;
    for (let i = 0; i < depth; i++) value = { v: value };
    expect(
      allIssues(parseRejected({ bistro_settings: settings(), "bistro_job->j": { owner: "o", config: value } }).errors),
    ).toMatch(/MAX_JSON_DEPTH/);
    expect(jsonDepthExceeds(`${"[".repeat(MAX_JSON_DEPTH)}${"]".repeat(MAX_JSON_DEPTH)}`)).toBe(false);
    expect(jsonDepthExceeds(`${"[".repeat(MAX_JSON_DEPTH + 1)}${"]".repeat(MAX_JSON_DEPTH + 1)}`)).toBe(true);
    expect(jsonDepthExceeds(`["${"[".repeat(500)}"]`)).toBe(false); // brackets inside strings do not count
  });

  it("more than MAX_JOBS jobs", () => {
    const { errors } = parseRejected(manyJobs(MAX_JOBS + 1));
    expect(errors).toEqual([
      { path: "", message: expect.stringMatching(/20,001; the limit is 20,000 \(MAX_JOBS\)/) as string },
    ]);
  });

  it("a job name over MAX_JOB_NAME_BYTES", () => {
    const name = "é".repeat(MAX_JOB_NAME_BYTES / 2 + 1);
    const { errors } = parseRejected({ bistro_settings: settings(), [`bistro_job->${name}`]: { owner: "o" } });
    expect(allIssues(errors)).toMatch(/MAX_JOB_NAME_BYTES/);
    expect(allIssues(errors).length).toBeLessThan(500);
  });

  it("a job entry over MAX_CONFIG_ENTRY_BYTES (the store keeps an entry in one item)", () => {
    const job = { owner: "o", config: { blob: "x".repeat(MAX_CONFIG_ENTRY_BYTES) } };
    const { errors } = parseRejected({ bistro_settings: settings(), "bistro_job->big": job });
    expect(errors[0]).toMatchObject({
      path: "bistro_job->big",
      message: expect.stringMatching(/MAX_CONFIG_ENTRY_BYTES/) as string,
    });
  });

  it("lists at most MAX_REPORTED_ISSUES issues, counting the rest", () => {
    const command = Array.from({ length: 5_000 }, () => 1);
    const job = parseValid(configDocument({ j: { owner: "o", command } })).jobs.j!;
    expect(job.errors).toHaveLength(MAX_REPORTED_ISSUES);
    expect(job.errors.at(-1)?.message).toMatch(/4901 more problems not listed/);
  });
});

describe("node limits", () => {
  it("node names within DynamoDB's sort-key limit, counting escaped characters", () => {
    expect(nodeNameProblem("x".repeat(MAX_NODE_NAME_BYTES))).toBeUndefined();
    expect(nodeNameProblem("x".repeat(MAX_NODE_NAME_BYTES + 1))).toMatch(/MAX_NODE_NAME_BYTES/);
    expect(nodeNameProblem("#".repeat(MAX_NODE_NAME_BYTES / 3 + 1))).toMatch(/MAX_NODE_NAME_BYTES/);
    expect(nodeNameProblem("x".repeat(1_000_000))?.length).toBeLessThan(300);
    expect(utf8Bytes("aé€😀")).toBe(Buffer.byteLength("aé€😀"));
    expect(tagsProblem(Array.from({ length: 1_000_000 }, () => "t"))).toMatch(
      /1,000,000; the limit is 256 \(MAX_TAGS_PER_NODE\)/,
    );
  });

  it("range_label refuses {i:x>200000000} before allocating, at save and at fetch", () => {
    const prefs = { parent_level: "instance", start: 0, end: 3, format: "{i:x>200000000}" };
    expect(() => compileFormat("{i:x>200000000}", ["i"])).toThrow(/MAX_RANGE_LABEL_WIDTH/);
    expect(() => rangeLabelNodes(nodeContext({ levels: ["db"], instanceName: "i", prefs }))).toThrow(
      /MAX_RANGE_LABEL_WIDTH/,
    );
    expect(() => compileFormat(`{i:0>${"9".repeat(100_000)}}`, ["i"])).toThrow(/MAX_RANGE_LABEL_WIDTH/);
    expect(() => compileFormat("{i}".repeat(17), ["i"])).toThrow(/MAX_RANGE_LABEL_PLACEHOLDERS/);
    const issues = nodeSourceIssues(
      { levels: ["db"], nodeSources: [{ source: "range_label", prefs }] },
      builtinNodeSources(),
    );
    expect(issues).toEqual([
      {
        path: "bistro_settings.nodes.node_sources.0.prefs",
        message: expect.stringMatching(/^range_label: .*MAX_RANGE_LABEL_WIDTH/) as string,
      },
    ]);
    // Names longer than the limit stop at the first one made.
    const long = { parent_level: "instance", start: 0, end: 999_999, format: `{i:0>900}${"y".repeat(100)}` };
    expect(() => rangeLabelNodes(nodeContext({ levels: ["db"], instanceName: "i", prefs: long }))).toThrow(
      /MAX_NODE_NAME_BYTES/,
    );
    const counts = { parent_level: "instance", start: 0, end: 2_000_000 };
    expect(() => rangeLabelNodes(nodeContext({ levels: ["db"], instanceName: "i", prefs: counts }))).toThrow(
      /MAX_NODES/,
    );
  });

  it("only implemented node sources validate: __proto__ and unknown kinds are config errors", () => {
    const registry = builtinNodeSources();
    const issues = nodeSourceIssues(
      {
        levels: ["host"],
        nodeSources: [
          { source: "__proto__", prefs: {} },
          { source: "constructor", prefs: {} },
          { source: "nope", prefs: {} },
          { source: "manual", prefs: { h1: [] } },
        ],
      },
      registry,
    );
    expect(issues.map((i) => i.path)).toEqual([0, 1, 2].map((n) => `bistro_settings.nodes.node_sources.${n}.source`));
    expect(issues[0]!.message).toBe(
      `unknown node source "__proto__"; this deployment implements ${registry
        .names()
        .map((name) => JSON.stringify(name))
        .join(", ")}`,
    );
    expect(registry.names()).toEqual(expect.arrayContaining(["manual", "range_label", "empty"]));
    // A source added to the registry passes with no other change.
    const extended = builtinNodeSources().register({ name: "nope", fetch: () => [] });
    expect(nodeSourceIssues({ levels: [], nodeSources: [{ source: "nope", prefs: {} }] }, extended)).toEqual([]);
    expect(new NodeSourceRegistry().get("__proto__")).toBeUndefined();
  });

  it("a manual source's node names are checked at save", () => {
    const issues = nodeSourceIssues(
      { levels: ["host"], nodeSources: [{ source: "manual", prefs: { ["h".repeat(2_000)]: [] } }] },
      builtinNodeSources(),
    );
    expect(issues[0]?.message).toMatch(/^manual: .*MAX_NODE_NAME_BYTES/);
  });

  it("a tree over MAX_NODES fails the refresh naming the limit", async () => {
    const config = parseValid({
      ...configDocument({}),
      bistro_settings: {
        ...baseSettings(),
        nodes: {
          levels: ["host", "db"],
          node_sources: [
            { source: "range_label", prefs: { parent_level: "instance", start: 1, end: 3 } },
            { source: "range_label", prefs: { parent_level: "host", start: 1, end: 400_000 } },
          ],
        },
      },
    });
    await expect(loadNodes(config.settings, "i", 0)).rejects.toThrow(/MAX_NODES/);
  });
});

describe("task_logs lists", () => {
  it("more than MAX_LOG_QUERY_JOBS jobs or MAX_LOG_QUERY_NODES nodes is a ValidationError naming the limit", () => {
    const names = Array.from({ length: 3_000 }, (_, i) => `j${i}`);
    const check = (query: { jobs?: string[]; nodes?: string[] }) => () => {
      checkLogQueryLists(query);
    };
    expect(check({ jobs: names })).toThrow(ValidationError);
    expect(check({ jobs: names })).toThrow(/3,000; the limit is 1,000 \(MAX_LOG_QUERY_JOBS\)/);
    expect(check({ nodes: names })).toThrow(/MAX_LOG_QUERY_NODES/);
    expect(check({ jobs: names.slice(0, 1_000), nodes: names.slice(0, 1_000) })).not.toThrow();
  });
});

describe("formatCount", () => {
  it("groups digits as en-US does, without loading ICU for whole numbers", () => {
    for (const value of [0, 7, 999, 1000, 12_345, -1_234_567, MAX_NODES, Number.MAX_SAFE_INTEGER, 1.5, 1234.5678]) {
      expect(formatCount(value)).toBe(value.toLocaleString("en-US"));
    }
  });
});
