// The histogram's fast path (placements kept per tree, cached answers for jobs without tasks,
// deltas from them for jobs with a few, one bottom-up pass for jobs with many) against the straightforward computation it replaced: for every node of
// the job's level, walk up to decide its placement, then OR its bits into every ancestor.
// Random trees (disabled nodes, tags, replicated names), random filters and random tasks;
// answers must be equal down to the order of codes and sample names.
import fc from "fast-check";
import {
  DELTA_SHARE,
  histogramCode,
  jobHistogram,
  MONITOR_SAMPLES,
  taskNodeBits,
  type HistogramTask,
} from "../../lib/api/histogram";
import type { Job } from "../../lib/model/config";
import { isInBackoff, StatusBits } from "../../lib/model/status";
import { buildNodeTree, type NodeSpec, type NodeTree } from "../../lib/model/tree";
import { compileFilter, passesNode, type CompiledFilter } from "../../lib/scheduler/filters";
import { parseValid } from "../helpers/config";

/** The first-wave implementation, kept here as the definition the fast path must match. */
function referenceHistogram(tree: NodeTree, job: Job, tasks: ReadonlyMap<string, HistogramTask>, nowSec: number) {
  const counts = new Map<string, Map<string, number>>();
  const samples = new Map<string, Map<string, string[]>>();
  const level = tree.levels.indexOf(job.levelForTasks);
  if (level < 0) return { counts: {}, samples: {}, own: [] as number[] };
  const filters: (CompiledFilter | null)[] = tree.levels.map((name) => {
    const filter = Object.hasOwn(job.filters, name) ? job.filters[name] : undefined;
    return filter ? compileFilter(filter) : null;
  });
  const shouldRun = (node: number): "yes" | "avoided" | "disabled" => {
    for (let n = node; n >= 0; n = tree.parentOf[n] ?? -1) {
      if (tree.enabled[n] !== 1) return "disabled";
      const filter = filters[tree.levelOf[n] ?? 0] ?? null;
      if (filter && !passesNode(filter, job.name, tree.names.at(n), tree.tags[n] ?? [])) return "avoided";
    }
    return "yes";
  };
  const nodes = Array.from(tree.byLevel[level] ?? []);
  const own = nodes.map((node) => {
    const decision = shouldRun(node);
    const placement = decision === "avoided" ? StatusBits.AVOIDED : decision === "disabled" ? StatusBits.DISABLED : 0;
    let status: number = decision === "yes" ? StatusBits.UNSTARTED : 0;
    const task = tasks.get(tree.names.at(node));
    if (task?.running) status = StatusBits.RUNNING;
    else if (task?.status) {
      status = isInBackoff(task.status, nowSec) ? task.status.bits : task.status.bits & ~StatusBits.USES_BACKOFF;
    }
    return placement | status;
  });
  const bits = new Int32Array(tree.size);
  const touched = new Uint8Array(tree.size);
  nodes.forEach((node, i) => {
    for (let n = node; n >= 0; n = tree.parentOf[n] ?? -1) {
      bits[n] = (bits[n] ?? 0) | (own[i] ?? 0);
      touched[n] = 1;
    }
  });
  for (const [index, members] of tree.byLevel.entries()) {
    const levelName = tree.levels[index] ?? "";
    for (const node of members) {
      if (touched[node] !== 1) continue;
      const code = histogramCode(bits[node] ?? 0);
      if (!counts.has(levelName)) {
        counts.set(levelName, new Map());
        samples.set(levelName, new Map());
      }
      const levelCounts = counts.get(levelName)!;
      const levelSamples = samples.get(levelName)!;
      levelCounts.set(code, (levelCounts.get(code) ?? 0) + 1);
      const names = levelSamples.get(code) ?? [];
      if (names.length < MONITOR_SAMPLES) names.push(tree.names.at(node));
      levelSamples.set(code, names);
    }
  }
  const plain = <T>(m: Map<string, Map<string, T>>) =>
    Object.fromEntries([...m].map(([l, byCode]) => [l, Object.fromEntries(byCode)]));
  return { counts: plain(counts), samples: plain(samples), own };
}

const LEVELS = ["host", "db", "shard"];
const TAGS = ["a", "b", "c"];
const REGEXES = ["1", "^h", "[02]$", "x"];

const specArb = (levelCount: number) =>
  fc
    .array(
      fc.record({
        level: fc.integer({ min: 1, max: levelCount }),
        name: fc.integer({ min: 0, max: 12 }),
        parent: fc.nat(),
        enabled: fc.integer({ min: 0, max: 9 }).map((n) => n < 8),
        tags: fc.subarray(TAGS),
      }),
      { maxLength: 60 },
    )
    .map((raw) => {
      // Parents before children: build level by level; a name repeated under another parent is a replica.
      const specs: NodeSpec[] = [];
      const byLevel: string[][] = [["scheduler"]];
      const pairs = new Set<string>();
      for (let level = 1; level <= levelCount; level++) {
        byLevel[level] = [];
        for (const r of raw.filter((x) => x.level === level)) {
          const parents = byLevel[level - 1] ?? [];
          if (parents.length === 0) continue;
          const parent = parents[r.parent % parents.length] ?? "scheduler";
          const name = `${(LEVELS[level - 1] ?? "l")[0]}${r.name}`;
          if (pairs.has(`${name}/${parent}`)) continue;
          pairs.add(`${name}/${parent}`);
          if (!byLevel[level]!.includes(name)) byLevel[level]!.push(name);
          specs.push({ name, level: LEVELS[level - 1]!, parent, enabled: r.enabled, tags: r.tags });
        }
      }
      return specs;
    });

const filterArb = fc.record(
  {
    whitelist: fc.subarray(["h1", "h2", "d1", "d3", "s0", "s4"]),
    whitelist_regex: fc.constantFrom(...REGEXES),
    blacklist: fc.subarray(["h0", "d2", "s1"]),
    blacklist_regex: fc.constantFrom(...REGEXES),
    tag_whitelist: fc.subarray(TAGS),
    fraction_of_nodes: fc.constantFrom(1, 0.5, 0.25),
  },
  { requiredKeys: [] },
);

const statusBitsArb = fc.constantFrom(
  StatusBits.DONE,
  StatusBits.FAILED,
  StatusBits.ERROR | StatusBits.USES_BACKOFF,
  StatusBits.INCOMPLETE | StatusBits.USES_BACKOFF,
  StatusBits.ERROR,
);
const taskArb = fc.record(
  {
    running: fc.boolean(),
    status: fc.record({ bits: statusBitsArb, timeSec: fc.integer({ min: 900, max: 1000 }), backoffSec: fc.nat(200) }),
  },
  { requiredKeys: ["running"] },
);

const caseArb = fc.integer({ min: 1, max: 3 }).chain((levelCount) =>
  fc.record({
    levelCount: fc.constant(levelCount),
    specs: specArb(levelCount),
    jobLevel: fc.integer({ min: 1, max: levelCount }),
    filters: fc.dictionary(fc.constantFrom("instance", ...LEVELS.slice(0, levelCount)), filterArb, { maxKeys: 3 }),
    jobs: fc.constantFrom<string[]>(["j"], ["j", "k"], ["k", "j"]),
    tasks: fc.dictionary(
      fc.integer({ min: 0, max: 12 }).chain((i) => fc.constantFrom(`h${i}`, `d${i}`, `s${i}`, "nowhere")),
      taskArb,
      { maxKeys: 10 },
    ),
  }),
);

describe("the histogram's fast path", () => {
  it("answers exactly what the straightforward computation answers, with and without tasks", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const levels = LEVELS.slice(0, c.levelCount);
        let tree: NodeTree;
        try {
          tree = buildNodeTree(levels, "scheduler", c.specs);
        } catch {
          fc.pre(false);
          return;
        }
        const document: Record<string, unknown> = {
          bistro_settings: { enabled: true, nodes: { levels }, resources: {} },
        };
        // Several jobs with equal filters share a placement; the names differ (fractions hash them).
        for (const name of c.jobs) {
          document[`bistro_job->${name}`] = {
            owner: "o",
            level_for_tasks: levels[c.jobLevel - 1],
            filters: c.filters,
          };
        }
        const config = parseValid(document);
        const tasks = new Map<string, HistogramTask>(Object.entries(c.tasks));
        for (const name of c.jobs) {
          const job = config.jobs[name]!;
          for (const given of [new Map<string, HistogramTask>(), tasks, new Map<string, HistogramTask>()]) {
            const expected = referenceHistogram(tree, job, given, 1000);
            // Order included: the JSON text is what clients see. Shares 0 and 1 force the full
            // pass and the delta from the cached answer without tasks; the default picks.
            for (const share of [0, 1, DELTA_SHARE]) {
              const fast = jobHistogram(tree, job, given, 1000, share);
              expect(JSON.stringify(fast)).toBe(JSON.stringify({ counts: expected.counts, samples: expected.samples }));
            }
            expect([...taskNodeBits(tree, job, given, 1000).bits]).toEqual(expected.own);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it("gives each caller its own answer: changing one does not change the next", () => {
    const config = parseValid({
      bistro_settings: { enabled: true, nodes: { levels: ["host"] }, resources: {} },
      "bistro_job->j": { owner: "o" },
    });
    const tree = buildNodeTree(["host"], "scheduler", [{ name: "h1", level: "host", parent: "scheduler" }]);
    const first = jobHistogram(tree, config.jobs.j!, new Map(), 1000);
    first.counts.host![histogramCode(StatusBits.UNSTARTED)] = 99;
    first.samples.host![histogramCode(StatusBits.UNSTARTED)]!.push("x");
    expect(jobHistogram(tree, config.jobs.j!, new Map(), 1000)).toEqual({
      counts: { instance: { B: 1 }, host: { B: 1 } },
      samples: { instance: { B: ["scheduler"] }, host: { B: ["h1"] } },
    });
  });
});
