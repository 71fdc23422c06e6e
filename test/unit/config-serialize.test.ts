// Writing the model back as Bistro JSON (Job::toDynamic) and
// the round trip parse(serialize(config)) == config.
import { parseConfig, serializeConfig, serializeJob, serializeSettings } from "../../lib/config";
import type { Config } from "../../lib/model/config";
import { bistroFixture, configDocument, parseValid } from "../helpers/config";

function withoutWarnings(config: Config): Omit<Config, "warnings"> {
  return { settings: config.settings, jobs: config.jobs };
}

describe("serializeJob: Bistro's Job::toDynamic", () => {
  const config = parseValid(bistroFixture("db-hosts.json"));

  it("writes the always-present keys first, in Bistro's order, with inherited values made concrete", () => {
    const json = serializeJob(config.jobs.scrape_stats!);
    expect(Object.keys(json)).toEqual([
      "enabled",
      "owner",
      "level_for_tasks",
      "priority",
      "config",
      "backoff",
      "kill_orphan_tasks_after_sec",
      "task_subprocess",
      "kill_subprocess",
      "resources",
      "filters",
    ]);
    expect(json).toEqual({
      enabled: true,
      owner: "analytics",
      level_for_tasks: "db",
      priority: 1,
      config: { table: "stats" },
      backoff: [5, 15, 60, "fail"],
      kill_orphan_tasks_after_sec: 600,
      task_subprocess: {
        poll_ms: 10,
        max_log_lines_per_poll_interval: 50,
        parent_death_signal: 9,
        process_group_leader: false,
        use_canary_pipe: true,
        cgroups: { root: "", slice: "", subsystems: [], kill_without_freezer: false },
      },
      kill_subprocess: { method: "term", kill_wait_ms: 0 },
      resources: { global_concurrency: 0, host_concurrency: 1, db_concurrency: 1, cpu: 1 },
      filters: { db_host: { blacklist: ["capybara.example.com"] }, db: { whitelist_regex: ":db_[1-3]$" } },
    });
  });

  it("writes optional keys only when set, kill_orphan_tasks_after_sec false for never, and omits empty resources", () => {
    const { jobs } = parseValid(
      configDocument({
        full: {
          owner: "o",
          backoff: ["fail"],
          level_for_host_placement: "host",
          host_placement: "h1",
          depends_on: ["bare"],
          create_time: 5,
          modify_time: 6,
          command: ["/bin/x"],
          version_id: 7,
        },
        bare: { owner: "o" },
      }),
    );
    const full = serializeJob(jobs.full!);
    expect(full).toMatchObject({
      backoff: ["fail"],
      kill_orphan_tasks_after_sec: false,
      level_for_host_placement: "host",
      host_placement: "h1",
      depends_on: ["bare"],
      create_time: 5,
      modify_time: 6,
      command: ["/bin/x"],
      version_id: 7,
    });
    const bare = serializeJob(jobs.bare!);
    for (const key of ["resources", "filters", "level_for_host_placement", "host_placement", "depends_on"]) {
      expect(bare).not.toHaveProperty(key);
    }
    for (const key of ["create_time", "modify_time", "command", "version_id", "errors"])
      expect(bare).not.toHaveProperty(key);
  });

  it("writes a broken job's errors, and reading them back keeps the job broken without nesting them", () => {
    const { jobs } = parseValid(configDocument({ broken: { priority: "high", depends_on: ["ghost"] } }));
    const broken = jobs.broken!;
    expect(broken.errors.map((e) => e.path)).toEqual(["bistro_job->broken.owner", "bistro_job->broken.priority"]);
    const json = serializeJob(broken);
    expect(json.errors).toEqual(broken.errors);
    const again = parseValid(configDocument({ broken: json })).jobs.broken;
    expect(again).toEqual(broken);
  });
});

describe("round trip: parseConfig(serializeConfig(config)) gives the config back", () => {
  it.each([
    "simple.json",
    "test_config.json",
    "db-hosts.json",
    "legacy-node-source.json",
    "invalid-dependency-cycle.json",
    "invalid-missing-owner.json",
  ])("%s", (fixture) => {
    const config = parseValid(bistroFixture(fixture));
    const written = serializeConfig(config);
    const reread = parseConfig(JSON.stringify(written));
    // What the content itself warns about remains (a dependency on a job that does not exist, no
    // node sources); the ignored legacy keys are not written.
    const inherent = config.warnings.filter((warning) => !/\.node_source(_prefs)?$/.test(warning.path));
    expect(reread.ok && reread.config.warnings).toEqual(inherent);
    expect(reread.ok && withoutWarnings(reread.config)).toEqual(withoutWarnings(config));
  });

  it("writes every settings key, so defaults survive a reader with other defaults", () => {
    const settings = parseValid(bistroFixture("simple.json")).settings;
    expect(Object.keys(serializeSettings(settings))).toEqual([
      "enabled",
      "working_wait",
      "idle_wait",
      "scheduler",
      "remote_worker_selector",
      "backoff",
      "nodes",
      "resources",
      "level_for_tasks",
      "kill_orphan_tasks_after_sec",
      "task_subprocess",
      "kill_subprocess",
      "worker_resources_override",
      "physical_resources",
      "CAUTION_exit_initial_wait_before_timestamp",
    ]);
  });

  it("round-trips physical resources, worker overrides, sub-second waits and orphan kill times", () => {
    const config = parseValid(
      configDocument(
        { j: { owner: "o", kill_orphan_tasks_after_sec: 0.29 } },
        {
          nodes: { levels: ["a"], node_sources: [{ source: "empty" }] },
          working_wait: 0.289,
          kill_orphan_tasks_after_sec: 0.001,
          resources: { worker: { ram: { limit: 30, default: 2, weight: 3 } } },
          worker_resources_override: { w: { ram: 64 } },
          physical_resources: { ram_mb: { logical_resource: "ram", multiply_logical_by: 1024, enforcement: "hard" } },
        },
      ),
    );
    const reread = parseValid(serializeConfig(config));
    expect(withoutWarnings(reread)).toEqual(withoutWarnings(config));
    expect(reread.jobs.j?.killOrphanTasksAfterSec).toBe(0.29);
  });
});
