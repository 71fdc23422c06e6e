// Bistro config parsing: the fixtures under events/bistro/, every
// settings key and default, per-job errors versus whole-config rejection, warnings, the legacy
// node_source form, and idleReasons.
import {
  idleReasons,
  parseConfig,
  parseJob,
  parseSettings,
  withDependencyCycleErrors,
  type ConfigParseResult,
} from "../../lib/config";
import { jobCanRun, type Job, type Settings } from "../../lib/model/config";
import { baseSettings, bistroFixture, byPath, configDocument, parseRejected, parseValid } from "../helpers/config";

const DEFAULT_BACKOFF = { values: [15, 30, 60, 300, 900, 3600, 7200, 21600, 86400], end: "repeat" };

function settingsWith(overrides: Record<string, unknown>): Record<string, unknown> {
  return { ...baseSettings(), ...overrides };
}

function validSettings(overrides: Record<string, unknown> = {}): Settings {
  return parseValid(configDocument({}, settingsWith(overrides))).settings;
}

function settingsErrors(overrides: Record<string, unknown>): Record<string, string> {
  return byPath(parseRejected(configDocument({}, settingsWith(overrides))).errors);
}

function job(json: Record<string, unknown>, settings: Record<string, unknown> = baseSettings()): Job {
  const config = parseValid(configDocument({ j: json }, settings));
  const parsed = config.jobs.j;
  if (!parsed) throw new Error("job j missing");
  return parsed;
}

function jobErrors(json: Record<string, unknown>, settings?: Record<string, unknown>): Record<string, string> {
  return byPath(job(json, settings).errors);
}

function warnings(result: ConfigParseResult): Record<string, string> {
  return byPath(result.ok ? result.config.warnings : result.warnings);
}

describe("the document: bistro_settings plus bistro_job->NAME keys", () => {
  it("parses the simple config (Bistro's first-run shape) into levels, a manual source, an instance resource and one job", () => {
    const config = parseValid(bistroFixture("simple.json"));
    expect(config.settings.enabled).toBe(true);
    expect(config.settings.levels).toEqual(["level1", "level2"]);
    expect(config.settings.nodeSources).toEqual([
      { source: "manual", prefs: { node1: ["node11", "node12"], node2: ["node21", "node22"] } },
    ]);
    expect(config.settings.resources).toEqual({ instance: { concurrency: { limit: 3, default: 1, weight: 0 } } });
    expect(Object.keys(config.jobs)).toEqual(["simple_job"]);
    const simple = config.jobs.simple_job;
    expect(simple).toMatchObject({ name: "simple_job", owner: "test", enabled: true, levelForTasks: "level2" });
    expect(simple?.resources).toEqual({ concurrency: 1 });
    expect(config.warnings).toEqual([]);
  });

  it("parses the minimal test config, whose resources are {}", () => {
    const config = parseValid(bistroFixture("test_config.json"));
    expect(config.settings.resources).toEqual({});
    expect(config.jobs.foo).toMatchObject({ owner: "sous", config: {}, resources: {}, errors: [] });
  });

  it("accepts an already-parsed value the same as its JSON text", () => {
    const text = bistroFixture("db-hosts.json");
    expect(parseConfig(JSON.parse(text))).toEqual(parseConfig(text));
  });

  it("rejects invalid JSON with the parser's reason and where it is", () => {
    const { errors } = parseRejected(bistroFixture("invalid-bad-json.json"));
    expect(errors).toHaveLength(1);
    expect(errors[0]?.path).toBe("");
    expect(errors[0]?.message).toMatch(/^invalid JSON: .*line 5/);
  });

  it.each([["[]"], ["5"], ['"text"'], ["null"], ["true"]])("rejects the non-object document %s", (text) => {
    const { errors } = parseRejected(text);
    expect(errors).toEqual([{ path: "", message: expect.stringMatching(/^expected a JSON object/) as unknown }]);
  });

  it("rejects a document without bistro_settings, or with a non-object one", () => {
    expect(parseRejected({ "bistro_job->a": { owner: "x" } }).errors).toEqual([
      { path: "bistro_settings", message: "missing bistro_settings property; expected an object" },
    ]);
    expect(byPath(parseRejected({ bistro_settings: [] }).errors)).toEqual({
      bistro_settings: "expected an object, found an empty array",
    });
  });

  it("ignores non-object job values and other keys, warning about each", () => {
    const result = parseConfig({ ...configDocument(), "bistro_job->x": 5, comment: "hi", "bistro_jobs->y": {} });
    expect(result.ok && Object.keys(result.config.jobs)).toEqual([]);
    expect(warnings(result)).toEqual({
      "bistro_job->x": "a job must be an object, found 5; ignored (as Bistro does)",
      comment: "unknown key, ignored",
      "bistro_jobs->y": 'unknown key, ignored (job keys look like "bistro_job->NAME")',
    });
  });
});

describe("error policy: bad settings reject everything, a bad job only itself", () => {
  it("lists every settings error of the wrong-types fixture, not just the first", () => {
    const { errors } = parseRejected(bistroFixture("invalid-wrong-types.json"));
    expect(byPath(errors)).toEqual({
      "bistro_settings.enabled": 'expected true or false, found the string "yes"',
      "bistro_settings.working_wait": 'expected a number of seconds from 0 to 1e12, found the string "0.5"',
      "bistro_settings.nodes.levels": 'expected an array of level names, top first, found the string "level1"',
      "bistro_settings.nodes.node_sources": 'expected an array of {"source": ..., "prefs": {...}}, found an object',
      "bistro_settings.kill_orphan_tasks_after_sec":
        'expected a number of seconds (up to 1e12) or a boolean (true = kill at once, false = never), found the string "never"',
      "bistro_settings.resources.instance.concurrency.limit": 'expected an integer >= 0, found the string "3"',
      "bistro_settings.resources.instance.concurrency.default": "expected an integer >= 0, found 1.5",
    });
    expect(errors.find((e) => e.path === "bistro_settings.enabled")?.value).toBe("yes");
  });

  it("returns no config at all when settings are bad, even if every job is fine", () => {
    const result = parseConfig(configDocument({ fine: { owner: "me" } }, settingsWith({ scheduler: "nope" })));
    expect(result.ok).toBe(false);
    expect(result).not.toHaveProperty("config");
  });

  it("keeps a broken job, invalid and listed, while the other jobs can run", () => {
    const config = parseValid(bistroFixture("invalid-missing-owner.json"));
    const { ownerless, fine } = config.jobs;
    expect(ownerless?.errors).toEqual([
      { path: "bistro_job->ownerless.owner", message: "required key is missing; expected a string" },
    ]);
    expect(ownerless && jobCanRun(ownerless)).toBe(false);
    expect(ownerless?.config).toEqual({ k: "v" });
    expect(fine && jobCanRun(fine)).toBe(true);
  });

  it("keeps the default of a bad job field and parses the good ones", () => {
    const broken = job({ owner: "o", priority: "high", enabled: false, config: { a: 1 } });
    expect(broken.priority).toBe(1);
    expect(broken.enabled).toBe(false);
    expect(broken.config).toEqual({ a: 1 });
    expect(byPath(broken.errors)).toEqual({ "bistro_job->j.priority": 'expected a number, found the string "high"' });
  });
});

describe("bistro_settings: every key and its default", () => {
  it("fills Bistro's defaults, enabled false first among them", () => {
    const settings = parseSettings({ nodes: { levels: ["host", "db"] }, resources: {} });
    expect(settings).toEqual({
      ok: true,
      warnings: [
        { path: "bistro_settings.nodes.node_sources", message: "no node sources: only the instance node exists" },
      ],
      settings: {
        enabled: false,
        workingWaitSec: 0.5,
        idleWaitSec: 5,
        scheduler: "roundrobin",
        remoteWorkerSelector: "roundrobin",
        backoff: DEFAULT_BACKOFF,
        levels: ["host", "db"],
        nodeSources: [],
        nodeOrder: "random",
        resources: {},
        levelForTasks: "db",
        killOrphanTasksAfterSec: null,
        taskSubprocess: {
          pollMs: 10,
          maxLogLinesPerPollInterval: 50,
          parentDeathSignal: 9,
          processGroupLeader: false,
          useCanaryPipe: true,
          cgroups: { root: "", slice: "", subsystems: [], killWithoutFreezer: false },
        },
        killSubprocess: { method: "term", killWaitMs: 0 },
        workerResourcesOverride: {},
        physicalResources: {},
        exitInitialWaitBeforeTimestamp: 0,
      },
    });
  });

  it("defaults level_for_tasks to the bottom level, or the instance with no levels", () => {
    expect(validSettings().levelForTasks).toBe("db");
    expect(validSettings({ nodes: { levels: [] } }).levelForTasks).toBe("instance");
  });

  it.each(["instance", "host", "db", "worker"])("accepts level_for_tasks %s", (level) => {
    expect(validSettings({ level_for_tasks: level }).levelForTasks).toBe(level);
  });

  it("rejects an unknown level_for_tasks, naming the levels", () => {
    expect(settingsErrors({ level_for_tasks: "table" })).toEqual({
      "bistro_settings.level_for_tasks": 'unknown level "table"; levels are "instance", "host", "db" or "worker"',
    });
  });

  it("reads working_wait and idle_wait in seconds, truncated to milliseconds, and rejects negatives", () => {
    expect(validSettings({ working_wait: 0.25, idle_wait: 10.0019 })).toMatchObject({
      workingWaitSec: 0.25,
      idleWaitSec: 10.001,
    });
    expect(settingsErrors({ idle_wait: -1 })).toEqual({
      "bistro_settings.idle_wait": "expected a number of seconds from 0 to 1e12, found -1",
    });
  });

  it.each(["roundrobin", "ranked_priority", "randomized_priority", "long_tail"])("accepts scheduler %s", (name) => {
    expect(validSettings({ scheduler: name }).scheduler).toBe(name);
  });

  it("rejects an unknown scheduler policy (the unknown-policy fixture), and Bistro's test-only unittest", () => {
    expect(byPath(parseRejected(bistroFixture("invalid-unknown-policy.json")).errors)).toEqual({
      "bistro_settings.scheduler":
        'expected one of "roundrobin", "ranked_priority", "randomized_priority" or "long_tail", found the string "fair_share"',
    });
    expect(Object.keys(settingsErrors({ scheduler: "unittest" }))).toEqual(["bistro_settings.scheduler"]);
  });

  it("reads remote_worker_selector and nodes.node_order, rejecting unknown values", () => {
    const settings = validSettings({
      remote_worker_selector: "busiest",
      nodes: { levels: ["a"], node_order: "lexicographic" },
    });
    expect(settings).toMatchObject({ remoteWorkerSelector: "busiest", nodeOrder: "lexicographic" });
    expect(
      settingsErrors({ remote_worker_selector: "least_loaded", nodes: { levels: ["a"], node_order: "sorted" } }),
    ).toEqual({
      "bistro_settings.remote_worker_selector":
        'expected one of "roundrobin" or "busiest", found the string "least_loaded"',
      "bistro_settings.nodes.node_order":
        'expected one of "original", "lexicographic" or "random", found the string "sorted"',
    });
  });

  it("requires nodes, nodes.levels and resources", () => {
    expect(byPath(parseRejected({ bistro_settings: {} }).errors)).toEqual({
      "bistro_settings.nodes": 'required key is missing; expected an object with "levels" and "node_sources"',
      "bistro_settings.resources":
        "required key is missing; expected an object of level -> resource -> {limit, default} (may be {})",
    });
    expect(settingsErrors({ nodes: {} })).toEqual({
      "bistro_settings.nodes.levels": "required key is missing; expected an array of level names, top first",
    });
  });

  it("rejects duplicate, empty, reserved and non-string level names", () => {
    expect(settingsErrors({ nodes: { levels: ["a", "a", "", "instance", "worker", 7] } })).toEqual({
      "bistro_settings.nodes.levels.1": 'duplicate level name "a"',
      "bistro_settings.nodes.levels.2": "level names must not be empty",
      "bistro_settings.nodes.levels.3": 'level name "instance" is reserved: Bistro adds "instance" and "worker" itself',
      "bistro_settings.nodes.levels.4": 'level name "worker" is reserved: Bistro adds "instance" and "worker" itself',
      "bistro_settings.nodes.levels.5": "expected a string, found 7",
    });
  });

  it("reads node_sources in order, prefs defaulting to {}, source required", () => {
    const settings = validSettings({
      nodes: { levels: ["a"], node_sources: [{ source: "empty" }, { source: "manual", prefs: { x: [] } }] },
    });
    expect(settings.nodeSources).toEqual([
      { source: "empty", prefs: {} },
      { source: "manual", prefs: { x: [] } },
    ]);
    expect(
      settingsErrors({ nodes: { levels: ["a"], node_sources: [{ prefs: {} }, { source: "x", prefs: [] }] } }),
    ).toEqual({
      "bistro_settings.nodes.node_sources.0.source": "required key is missing; expected a string",
      "bistro_settings.nodes.node_sources.1.prefs": "expected an object, found an empty array",
    });
  });

  it("reads resources per level with limit, default and weight (default 0)", () => {
    const settings = parseValid(bistroFixture("db-hosts.json")).settings;
    expect(settings.resources).toEqual({
      instance: { global_concurrency: { limit: 10, default: 1, weight: 0 } },
      db_host: { host_concurrency: { limit: 2, default: 1, weight: 0 } },
      db: { db_concurrency: { limit: 1, default: 1, weight: 0 } },
      worker: { cpu: { limit: 4, default: 1, weight: 1 } },
    });
  });

  it("rejects negative resource amounts (the negative-limit fixture) and a negative weight", () => {
    expect(byPath(parseRejected(bistroFixture("invalid-negative-limit.json")).errors)).toEqual({
      "bistro_settings.resources.host.host_concurrency.limit": "expected an integer >= 0, found -2",
      "bistro_settings.resources.host.host_concurrency.default": "expected an integer >= 0, found -1",
    });
    expect(settingsErrors({ resources: { host: { r: { limit: 1, default: 1, weight: -1 } } } })).toEqual({
      "bistro_settings.resources.host.r.weight": "expected an integer >= 0, found -1",
    });
  });

  it("requires limit and default of each resource", () => {
    expect(settingsErrors({ resources: { instance: { r: {} } } })).toEqual({
      "bistro_settings.resources.instance.r.limit": "required key is missing; expected an integer >= 0",
      "bistro_settings.resources.instance.r.default": "required key is missing; expected an integer >= 0",
    });
  });

  it("rejects unknown levels (the unknown-level fixture) and a resource defined at two levels", () => {
    expect(byPath(parseRejected(bistroFixture("invalid-unknown-level.json")).errors)).toEqual({
      "bistro_settings.level_for_tasks": 'unknown level "table"; levels are "instance", "host", "db" or "worker"',
      "bistro_settings.resources.hosts": 'unknown level "hosts"; levels are "instance", "host", "db" or "worker"',
    });
    const twice = { host: { r: { limit: 1, default: 1 } }, db: { r: { limit: 1, default: 1 } } };
    expect(settingsErrors({ resources: twice })).toEqual({
      "bistro_settings.resources.db.r":
        'resource "r" is already defined at level "host"; resource names are shared by all levels',
    });
  });

  it("does not pile level errors on top of a broken levels list", () => {
    const errors = settingsErrors({ nodes: { levels: "host" }, level_for_tasks: "db", resources: { db: {} } });
    expect(Object.keys(errors)).toEqual(["bistro_settings.nodes.levels"]);
  });

  it.each([
    [true, 0],
    [false, null],
    [0, 0],
    [0.37, 0.37],
    [600, 600],
    [-1, null],
  ])("reads kill_orphan_tasks_after_sec %p as %p", (value, seconds) => {
    expect(validSettings({ kill_orphan_tasks_after_sec: value }).killOrphanTasksAfterSec).toBe(seconds);
  });

  it("reads every task_subprocess key and rejects a poll_ms below 1", () => {
    const taskSubprocess = {
      poll_ms: 111,
      max_log_lines_per_poll_interval: 222,
      parent_death_signal: 333,
      process_group_leader: true,
      use_canary_pipe: false,
      cgroups: { root: "root", slice: "slice", subsystems: ["sys1", "sys2"], kill_without_freezer: true },
    };
    expect(validSettings({ task_subprocess: taskSubprocess }).taskSubprocess).toEqual({
      pollMs: 111,
      maxLogLinesPerPollInterval: 222,
      parentDeathSignal: 333,
      processGroupLeader: true,
      useCanaryPipe: false,
      cgroups: { root: "root", slice: "slice", subsystems: ["sys1", "sys2"], killWithoutFreezer: true },
    });
    expect(settingsErrors({ task_subprocess: { poll_ms: 0 } })).toEqual({
      "bistro_settings.task_subprocess.poll_ms": "expected an integer >= 1, found 0",
    });
  });

  it("reads kill_subprocess and rejects an unknown kill method", () => {
    expect(validSettings({ kill_subprocess: { method: "kill", kill_wait_ms: 987 } }).killSubprocess).toEqual({
      method: "kill",
      killWaitMs: 987,
    });
    expect(settingsErrors({ kill_subprocess: { method: "sigint" } })).toEqual({
      "bistro_settings.kill_subprocess.method":
        'expected one of "term", "term_wait_kill" or "kill", found the string "sigint"',
    });
  });

  describe("worker_resources_override", () => {
    const resources = { host: { host_slots: { limit: 2, default: 1 } }, worker: { cpu: { limit: 4, default: 1 } } };

    it("overrides worker resources per worker key", () => {
      const settings = validSettings({
        resources,
        worker_resources_override: { "w1:17": { cpu: 55 }, w2: { cpu: 0 } },
      });
      expect(settings.workerResourcesOverride).toEqual({ "w1:17": { cpu: 55 }, w2: { cpu: 0 } });
    });

    it("rejects unknown resources, resources of other levels and negative amounts", () => {
      expect(
        settingsErrors({ resources, worker_resources_override: { w: { gpu: 1, host_slots: 3 }, v: { cpu: -1 } } }),
      ).toEqual({
        "bistro_settings.worker_resources_override.w.gpu":
          'overriding unknown resource "gpu"; worker resources are "cpu"',
        "bistro_settings.worker_resources_override.w.host_slots":
          'overriding resource for wrong level: "host_slots" belongs to level "host"; only "worker" resources can be overridden',
        "bistro_settings.worker_resources_override.v.cpu": "expected an integer >= 0, found -1",
      });
    });
  });

  describe("physical_resources", () => {
    const resources = {
      worker: {
        my_ram_gb: { default: 2, limit: 30 },
        my_cpu_centicore: { default: 100, limit: 700 },
        my_gpu_card: { default: 1, limit: 5 },
      },
      host: { host_slots: { default: 1, limit: 2 } },
    };

    it("reads Bistro's example mapping of RAM, CPU and GPU to worker resources", () => {
      const settings = validSettings({
        resources,
        physical_resources: {
          ram_mb: {
            logical_resource: "my_ram_gb",
            multiply_logical_by: 1024,
            enforcement: "hard",
            physical_reserve_amount: 1536,
          },
          cpu_core: { logical_resource: "my_cpu_centicore", multiply_logical_by: 0.001, enforcement: "soft" },
          gpu_card: { logical_resource: "my_gpu_card" },
        },
      });
      expect(settings.physicalResources).toEqual({
        ram_mb: {
          logicalResource: "my_ram_gb",
          multiplyLogicalBy: 1024,
          physicalReserveAmount: 1536,
          enforcement: "hard",
        },
        cpu_core: {
          logicalResource: "my_cpu_centicore",
          multiplyLogicalBy: 0.001,
          physicalReserveAmount: 0,
          enforcement: "soft",
        },
        gpu_card: {
          logicalResource: "my_gpu_card",
          multiplyLogicalBy: 1,
          physicalReserveAmount: 0,
          enforcement: "none",
        },
      });
    });

    it("rejects unknown types, non-worker or reused logical resources, a zero factor and unsupported enforcement", () => {
      expect(
        settingsErrors({
          resources,
          physical_resources: {
            disk_gb: { logical_resource: "my_ram_gb" },
            ram_mb: { logical_resource: "host_slots", enforcement: "soft" },
            cpu_core: { logical_resource: "my_gpu_card", multiply_logical_by: 0 },
            gpu_card: { logical_resource: "my_gpu_card", enforcement: "hard" },
          },
        }),
      ).toEqual({
        "bistro_settings.physical_resources.disk_gb":
          'unknown physical resource type "disk_gb"; expected "ram_mb", "cpu_core" or "gpu_card"',
        "bistro_settings.physical_resources.ram_mb.logical_resource":
          'physical resource maps to unknown resource "host_slots"; it must be a "worker" resource',
        "bistro_settings.physical_resources.ram_mb.enforcement":
          'ram_mb does not support enforcement "soft"; supported: "none" or "hard"',
        "bistro_settings.physical_resources.cpu_core.multiply_logical_by":
          "must not be 0 (too close to 0 for machine precision)",
        "bistro_settings.physical_resources.gpu_card.logical_resource":
          'logical resource "my_gpu_card" is already used by physical_resources.cpu_core',
        "bistro_settings.physical_resources.gpu_card.enforcement":
          'gpu_card does not support enforcement "hard"; supported: "none"',
      });
    });
  });

  it("reads CAUTION_exit_initial_wait_before_timestamp", () => {
    expect(validSettings({ CAUTION_exit_initial_wait_before_timestamp: 123 }).exitInitialWaitBeforeTimestamp).toBe(123);
  });
});

describe("legacy nodes.node_source + node_source_prefs", () => {
  it("ignores the getting-started form with a warning, as Bistro does: only the instance node exists", () => {
    const legacy = parseConfig(bistroFixture("legacy-node-source.json"));
    const simple = parseValid(bistroFixture("simple.json"));
    expect(legacy.ok && legacy.config.settings).toEqual({ ...simple.settings, nodeSources: [] });
    expect(legacy.ok && legacy.config.jobs).toEqual(simple.jobs);
    expect(warnings(legacy)).toEqual({
      "bistro_settings.nodes.node_source":
        'ignored, as Bistro ignores it: the single-source form "node_source" + "node_source_prefs" was removed in ' +
        '2016; list the source in "node_sources": [{"source": "manual", "prefs": {...}}]',
      "bistro_settings.nodes.node_sources": "no node sources: only the instance node exists",
    });
  });

  it("ignores it beside node_sources too", () => {
    const nodes = {
      levels: ["a"],
      node_sources: [{ source: "empty" }],
      node_source: "manual",
      node_source_prefs: { x: [] },
    };
    const result = parseConfig(configDocument({}, settingsWith({ nodes })));
    expect(result.ok && result.config.settings.nodeSources).toEqual([{ source: "empty", prefs: {} }]);
    expect(Object.keys(warnings(result))).toEqual(["bistro_settings.nodes.node_source"]);
  });

  it("ignores node_source_prefs alone, and a node_source of any type, with a warning and no error", () => {
    const alone = parseConfig(configDocument({}, settingsWith({ nodes: { levels: ["a"], node_source_prefs: {} } })));
    expect(warnings(alone)["bistro_settings.nodes.node_source_prefs"]).toMatch(/^ignored, as Bistro ignores it/);
    const odd = parseConfig(configDocument({}, settingsWith({ nodes: { levels: ["a"], node_source: ["manual"] } })));
    expect(odd.ok).toBe(true);
    expect(warnings(odd)["bistro_settings.nodes.node_source"]).toMatch(/^ignored, as Bistro ignores it/);
  });
});

describe("warnings: unknown keys are reported, never silently dropped", () => {
  it("warns about unknown keys at every depth and keeps them out of the model", () => {
    const settings = settingsWith({
      colour: "blue",
      levle_for_tasks: "db",
      resources: { host: { r: { limit: 1, default: 1, max: 3 } } },
      task_subprocess: { poll: 5, cgroups: { slices: "x" } },
    });
    const result = parseConfig(
      configDocument({ j: { owner: "o", prioirty: 2, filters: { db: { whitelist: ["db11"], bogus: 1 } } } }, settings),
    );
    expect(warnings(result)).toEqual({
      "bistro_settings.colour": "unknown key, ignored",
      "bistro_settings.levle_for_tasks": 'unknown key, ignored (did you mean "level_for_tasks"?)',
      "bistro_settings.resources.host.r.max": "unknown key, ignored",
      "bistro_settings.task_subprocess.poll": "unknown key, ignored",
      "bistro_settings.task_subprocess.cgroups.slices": 'unknown key, ignored (did you mean "slice"?)',
      "bistro_job->j.prioirty": 'unknown key, ignored (did you mean "priority"?)',
      "bistro_job->j.filters.db.bogus": "unknown key, ignored",
    });
    expect(result.ok && result.config.settings).not.toHaveProperty("colour");
    expect(result.ok && result.config.settings.levelForTasks).toBe("db");
    expect(result.ok && result.config.jobs.j?.priority).toBe(1);
  });

  it("names the right key for documented keys the code never read", () => {
    const result = parseConfig(
      configDocument(
        { j: { owner: "o", kill_request: {}, run_only_after_all_nodes_are_done_for: ["k"], filter: {} } },
        settingsWith({ kill_request: {}, worker_resources_overrides: {}, node_order: "original" }),
      ),
    );
    const found = warnings(result);
    expect(found["bistro_settings.kill_request"]).toMatch(/use "kill_subprocess"/);
    expect(found["bistro_settings.worker_resources_overrides"]).toMatch(/use "worker_resources_override"/);
    expect(found["bistro_settings.node_order"]).toMatch(/inside "nodes"/);
    expect(found["bistro_job->j.kill_request"]).toMatch(/use "kill_subprocess"/);
    expect(found["bistro_job->j.run_only_after_all_nodes_are_done_for"]).toMatch(/never implemented/);
    expect(found["bistro_job->j.filter"]).toMatch(/did you mean "filters"/);
    expect(result.ok && result.config.settings.nodeOrder).toBe("random");
  });

  it("keeps warnings of a rejected config alongside its errors", () => {
    const result = parseRejected(configDocument({}, settingsWith({ kill_request: {}, scheduler: 1 })));
    expect(Object.keys(byPath(result.errors))).toEqual(["bistro_settings.scheduler"]);
    expect(Object.keys(byPath(result.warnings))).toEqual(["bistro_settings.kill_request"]);
  });
});

describe("jobs: inherited settings, keys and job errors", () => {
  it("inherits level_for_tasks, resource defaults, backoff, orphan kill, task_subprocess and kill_subprocess", () => {
    const config = parseValid(bistroFixture("db-hosts.json"));
    const scrape = config.jobs.scrape_stats;
    expect(scrape).toMatchObject({
      levelForTasks: "db",
      resources: { global_concurrency: 0, host_concurrency: 1, db_concurrency: 1, cpu: 1 },
      backoff: { values: [5, 15, 60], end: "fail" },
      killOrphanTasksAfterSec: 600,
      taskSubprocess: config.settings.taskSubprocess,
      killSubprocess: { method: "term", killWaitMs: 0 },
    });
    expect(config.jobs.backup).toMatchObject({
      priority: 10,
      resources: { global_concurrency: 1, host_concurrency: 2, db_concurrency: 1, cpu: 2 },
      killSubprocess: { method: "term_wait_kill", killWaitMs: 5000 },
    });
    expect(config.jobs.verify_backup).toMatchObject({
      dependsOn: ["backup"],
      backoff: { values: [30], end: "repeat" },
    });
  });

  it("gives a job Bistro's defaults: enabled, priority 1, empty config, no placement, no version", () => {
    expect(job({ owner: "o" })).toEqual({
      name: "j",
      owner: "o",
      enabled: true,
      priority: 1,
      resources: {},
      config: {},
      filters: {},
      levelForTasks: "db",
      levelForHostPlacement: null,
      hostPlacement: null,
      backoff: DEFAULT_BACKOFF,
      dependsOn: [],
      killOrphanTasksAfterSec: null,
      attemptDurationSec: null,
      taskSubprocess: validSettings().taskSubprocess,
      killSubprocess: { method: "term", killWaitMs: 0 },
      command: [],
      createTime: null,
      modifyTime: null,
      versionId: null,
      errors: [],
    });
  });

  it("reads a disabled job as valid but not runnable", () => {
    const disabled = job({ owner: "o", enabled: false });
    expect(disabled.errors).toEqual([]);
    expect(jobCanRun(disabled)).toBe(false);
  });

  it("rejects unknown and negative resources, naming the configured ones", () => {
    const settings = settingsWith({ resources: { host: { slots: { limit: 2, default: 1 } } } });
    expect(jobErrors({ owner: "o", resources: { gpu: 1, slots: -1 } }, settings)).toEqual({
      "bistro_job->j.resources.gpu": 'unknown resource "gpu"; configured resources are "slots"',
      "bistro_job->j.resources.slots": "expected an integer >= 0, found -1",
    });
    expect(jobErrors({ owner: "o", resources: { gpu: 1 } })).toEqual({
      "bistro_job->j.resources.gpu": 'unknown resource "gpu"; no resources are configured',
    });
  });

  it("requires config to be an object, command an array of strings", () => {
    expect(jobErrors({ owner: "o", config: [1], command: ["run", 5] })).toEqual({
      "bistro_job->j.config": "expected an object, found an array",
      "bistro_job->j.command.1": "expected a string, found 5",
    });
    expect(job({ owner: "o", command: ["/bin/task", "--fast"] }).command).toEqual(["/bin/task", "--fast"]);
  });

  it("checks level_for_tasks and level_for_host_placement; host_placement wins without error", () => {
    expect(jobErrors({ owner: "o", level_for_tasks: "table", level_for_host_placement: "rack" })).toEqual({
      "bistro_job->j.level_for_tasks": 'unknown level "table"; levels are "instance", "host", "db" or "worker"',
      "bistro_job->j.level_for_host_placement": 'unknown level "rack"; levels are "instance", "host", "db" or "worker"',
    });
    const placed = job({ owner: "o", level_for_tasks: "host", level_for_host_placement: "host", host_placement: "h" });
    expect(placed).toMatchObject({
      levelForTasks: "host",
      levelForHostPlacement: "host",
      hostPlacement: "h",
      errors: [],
    });
    expect(job({ owner: "o", host_placement: "" }).hostPlacement).toBeNull();
  });

  it("keeps create_time, modify_time and version_id only when set (> 0, >= 0)", () => {
    expect(job({ owner: "o", create_time: 10, modify_time: 20, version_id: 0 })).toMatchObject({
      createTime: 10,
      modifyTime: 20,
      versionId: 0,
    });
    expect(job({ owner: "o", create_time: 0, version_id: -1 })).toMatchObject({ createTime: null, versionId: null });
    expect(jobErrors({ owner: "o", version_id: "not an int" })).toEqual({
      "bistro_job->j.version_id": 'expected an integer, found the string "not an int"',
    });
  });

  it("merges task_subprocess and kill_subprocess key by key over the settings' values", () => {
    const settings = settingsWith({
      task_subprocess: {
        poll_ms: 111,
        max_log_lines_per_poll_interval: 222,
        parent_death_signal: 333,
        process_group_leader: true,
        use_canary_pipe: false,
        cgroups: { subsystems: ["config_subsys"], root: "/cg" },
      },
      kill_subprocess: { method: "kill", kill_wait_ms: 987 },
    });
    const merged = job(
      {
        owner: "o",
        task_subprocess: {
          max_log_lines_per_poll_interval: 444,
          use_canary_pipe: true,
          cgroups: { subsystems: ["cpu"] },
        },
        kill_subprocess: { method: "term_wait_kill" },
      },
      settings,
    );
    expect(merged.taskSubprocess).toEqual({
      pollMs: 111,
      maxLogLinesPerPollInterval: 444,
      parentDeathSignal: 333,
      processGroupLeader: true,
      useCanaryPipe: true,
      cgroups: { root: "/cg", slice: "", subsystems: ["cpu"], killWithoutFreezer: false },
    });
    expect(merged.killSubprocess).toEqual({ method: "term_wait_kill", killWaitMs: 987 });
  });

  it("overrides kill_orphan_tasks_after_sec per job, with the same syntax", () => {
    const settings = settingsWith({ kill_orphan_tasks_after_sec: true });
    expect(job({ owner: "o" }, settings).killOrphanTasksAfterSec).toBe(0);
    expect(job({ owner: "o", kill_orphan_tasks_after_sec: 0.37 }, settings).killOrphanTasksAfterSec).toBe(0.37);
    expect(job({ owner: "o", kill_orphan_tasks_after_sec: false }, settings).killOrphanTasksAfterSec).toBeNull();
  });

  it("treats a non-empty pre-existing errors value as invalid, and {} as harmless", () => {
    const bistroStyle = { nested: { owner: { error: "boom" } } };
    expect(job({ owner: "o", errors: bistroStyle }).errors).toEqual([
      { path: "bistro_job->j.errors", message: "Pre-existing errors", value: bistroStyle },
    ]);
    expect(job({ owner: "o", errors: {} }).errors).toEqual([]);
    const issues = [{ path: "bistro_job->j.owner", message: "required key is missing; expected a string" }];
    expect(job({ owner: "", errors: issues }).errors).toEqual(issues);
  });

  it("rejects an empty job name", () => {
    const config = parseValid({ ...configDocument(), "bistro_job->": { owner: "o" } });
    expect(config.jobs[""]?.errors).toEqual([{ path: "bistro_job->", message: "job name is empty" }]);
  });
});

describe("depends_on: cycles are job errors, unknown jobs warnings", () => {
  it("marks every job of a cycle, names the cycle once, and warns about unknown dependencies (the cycle fixture)", () => {
    const parsed = parseConfig(bistroFixture("invalid-dependency-cycle.json"));
    const { jobs } = parseValid(bistroFixture("invalid-dependency-cycle.json"));
    expect(byPath(jobs.extract?.errors ?? [])).toEqual({
      "bistro_job->extract.depends_on":
        "depends_on cycle extract -> load -> transform -> extract (each waits for the next): these jobs would never run",
    });
    const pointer = 'part of the depends_on cycle reported on job "extract": this job would never run';
    expect(jobs.transform?.errors[0]?.message).toBe(pointer);
    expect(jobs.load?.errors[0]?.message).toBe(pointer);
    // report depends on the cycle's load (it never runs) and on a job that does not exist: as in
    // Bistro it stays valid, so its running tasks are never orphans.
    expect(jobs.report?.errors).toEqual([]);
    expect(warnings(parsed)["bistro_job->report.depends_on.1"]).toBe(
      'unknown job "publish": this job starts no task until a job of that name exists',
    );
    expect(jobs.independent?.errors).toEqual([]);
  });

  it("reports a job depending on itself as a cycle", () => {
    expect(jobErrors({ owner: "o", depends_on: ["j"] })).toEqual({
      "bistro_job->j.depends_on": "depends_on cycle j -> j (each waits for the next): these jobs would never run",
    });
  });

  it("accepts a dependency chain without cycles", () => {
    const { jobs } = parseValid(
      configDocument({
        a: { owner: "o" },
        b: { owner: "o", depends_on: ["a"] },
        c: { owner: "o", depends_on: ["a", "b"] },
      }),
    );
    expect(Object.values(jobs).flatMap((j) => j.errors)).toEqual([]);
  });
});

describe("filters", () => {
  it("reads every filter key per level", () => {
    const filtered = job({
      owner: "o",
      filters: {
        host: { whitelist: ["host1"], blacklist_regex: "^bad" },
        db: { whitelist_regex: "db1.", blacklist: ["db12"], tag_whitelist: ["ssd"], fraction_of_nodes: 0.5 },
      },
    });
    expect(filtered.filters).toEqual({
      host: {
        whitelist: ["host1"],
        whitelistRegex: null,
        blacklist: [],
        blacklistRegex: "^bad",
        tagWhitelist: [],
        fractionOfNodes: 1,
      },
      db: {
        whitelist: [],
        whitelistRegex: "db1.",
        blacklist: ["db12"],
        blacklistRegex: null,
        tagWhitelist: ["ssd"],
        fractionOfNodes: 0.5,
      },
    });
  });

  it("leaves out filters that keep every node, and treats an empty regex as none", () => {
    expect(
      job({ owner: "o", filters: { db: { fraction_of_nodes: 1.0, whitelist_regex: "" }, host: {} } }).filters,
    ).toEqual({});
  });

  it("rejects invalid regexes, unknown levels and bad value types", () => {
    const errors = jobErrors({
      owner: "o",
      filters: { db: { whitelist_regex: "db[", blacklist: "db1" }, table: {}, host: [] },
    });
    expect(errors["bistro_job->j.filters.db.whitelist_regex"]).toMatch(/^invalid regular expression: /);
    expect(errors).toMatchObject({
      "bistro_job->j.filters.db.blacklist": 'expected an array of strings, found the string "db1"',
      "bistro_job->j.filters.table": 'unknown level "table"; levels are "instance", "host", "db" or "worker"',
      "bistro_job->j.filters.host": "expected an object, found an empty array",
    });
  });

  it("uses 1 for fraction_of_nodes outside (0, 1], as Bistro does for <= 0, with a warning", () => {
    const result = parseConfig(configDocument({ j: { owner: "o", filters: { db: { fraction_of_nodes: 0 } } } }));
    expect(result.ok && result.config.jobs.j?.filters).toEqual({});
    expect(warnings(result)["bistro_job->j.filters.db.fraction_of_nodes"]).toMatch(/using 1 \(every node\)/);
  });
});

describe("backoff parsing", () => {
  it.each([
    [[5, 15, 60], { values: [5, 15, 60], end: "fail" }],
    [[1, 2, 3, "fail"], { values: [1, 2, 3], end: "fail" }],
    [[1, 2, 3, "repeat"], { values: [1, 2, 3], end: "repeat" }],
    [["fail"], { values: [], end: "fail" }],
  ])("reads %j", (backoff, expected) => {
    expect(job({ owner: "o", backoff }).backoff).toEqual(expected);
    expect(validSettings({ backoff }).backoff).toEqual(expected);
  });

  it.each([
    [{}, "bistro_job->j.backoff", /^expected an array of strictly increasing positive integers/],
    [[], "bistro_job->j.backoff", /^backoff is empty/],
    [[0], "bistro_job->j.backoff.0", /^backoff times must be positive, found 0$/],
    [[5, -5], "bistro_job->j.backoff.1", /^backoff times must be positive, found -5$/],
    [[1, 1, 2, "fail"], "bistro_job->j.backoff.1", /^duplicate backoff time 1/],
    [[10, 30, 20], "bistro_job->j.backoff.2", /^backoff times must be in increasing order, found 20 after 30$/],
    [["repeat"], "bistro_job->j.backoff.0", /^"repeat" needs at least one backoff time before it$/],
    [[1, 2, 3, "invalid"], "bistro_job->j.backoff.3", /^unknown string "invalid" in backoff/],
    [[1, 2, {}], "bistro_job->j.backoff.2", /^expected a positive integer, "repeat" or "fail", found an object$/],
    [[1.5], "bistro_job->j.backoff.0", /^expected a positive integer, "repeat" or "fail", found 1.5$/],
  ])("rejects %j at %s", (backoff, path, message) => {
    const broken = job({ owner: "o", backoff });
    expect(broken.errors).toEqual([
      { path, message: expect.stringMatching(message) as unknown, value: expect.anything() as unknown },
    ]);
    expect(broken.backoff).toEqual(DEFAULT_BACKOFF);
  });

  it("rejects a bad settings backoff with the whole config", () => {
    expect(Object.keys(settingsErrors({ backoff: [3, 2] }))).toEqual(["bistro_settings.backoff.1"]);
  });

  it("ignores items after the terminating string, with a warning", () => {
    const result = parseConfig(configDocument({ j: { owner: "o", backoff: [5, "fail", 10] } }));
    expect(result.ok && result.config.jobs.j?.backoff).toEqual({ values: [5], end: "fail" });
    expect(warnings(result)).toEqual({ "bistro_job->j.backoff.2": 'items after "fail" are ignored' });
  });
});

describe("parseJob: one job against existing settings (single-job PUT)", () => {
  const settings = validSettings({ resources: { host: { slots: { limit: 2, default: 1 } } } });

  it("parses a job with the settings' defaults and returns its warnings", () => {
    const { job: parsed, warnings: found } = parseJob(settings, "new", { owner: "me", extra: 1 }, ["other"]);
    expect(parsed).toMatchObject({ name: "new", owner: "me", resources: { slots: 1 }, errors: [] });
    expect(found).toEqual([{ path: "bistro_job->new.extra", message: "unknown key, ignored" }]);
  });

  it("checks depends_on against the given job names: an unknown one is a warning, the job stays valid", () => {
    expect(parseJob(settings, "new", { owner: "me", depends_on: ["other"] }, ["other"]).job.errors).toEqual([]);
    const unknown = parseJob(settings, "new", { owner: "me", depends_on: ["gone"] }, ["other"]);
    expect(unknown.job.errors).toEqual([]);
    expect(unknown.job.dependsOn).toEqual(["gone"]);
    expect(byPath(unknown.warnings)).toEqual({
      "bistro_job->new.depends_on.0": 'unknown job "gone": this job starts no task until a job of that name exists',
    });
  });

  it("returns an invalid job for a non-object body", () => {
    const { job: parsed } = parseJob(settings, "new", "owner=me", []);
    expect(parsed.errors).toEqual([
      { path: "bistro_job->new", message: 'expected an object, found the string "owner=me"', value: "owner=me" },
    ]);
  });

  it("finds the cycle a new job closes when checked with the other jobs", () => {
    const jobs = parseValid(configDocument({ a: { owner: "o", depends_on: ["b"] }, b: { owner: "o" } })).jobs;
    const { job: b } = parseJob(settings, "b", { owner: "o", depends_on: ["a"] }, Object.keys(jobs));
    const checked = withDependencyCycleErrors({ ...jobs, b });
    expect(checked.a?.errors[0]?.message).toMatch(/^depends_on cycle a -> b -> a/);
    expect(checked.b?.errors[0]?.message).toBe(
      'part of the depends_on cycle reported on job "a": this job would never run',
    );
    expect(jobs.a?.errors).toEqual([]);
  });
});

describe("idleReasons: why nothing (or a job) would run", () => {
  it("explains enabled false, Bistro's default", () => {
    const config = parseValid(configDocument({ j: { owner: "o" } }, settingsWith({ enabled: undefined })));
    expect(idleReasons(config)).toEqual([
      "bistro_settings.enabled is false (Bistro's default): no task will start; set it to true",
    ]);
  });

  it("names disabled and invalid jobs, and runnable jobs waiting on them", () => {
    const config = parseValid(
      configDocument({
        off: { owner: "o", enabled: false },
        broken: { enabled: true },
        waiting: { owner: "o", depends_on: ["off"] },
        fine: { owner: "o" },
      }),
    );
    expect(idleReasons(config)).toEqual([
      'job "off" is disabled ("enabled": false): it starts no tasks',
      'job "broken" is invalid and never runs: bistro_job->broken.owner: required key is missing; expected a string',
      'job "waiting" depends on job "off", which is disabled: "waiting" runs on a node only after "off" is done there',
    ]);
  });

  it("explains a config without jobs or without node sources", () => {
    expect(idleReasons(parseValid(configDocument()))).toEqual(['no jobs are defined: add "bistro_job->NAME" entries']);
    const noSources = settingsWith({ nodes: { levels: ["host"] } });
    expect(idleReasons(parseValid(configDocument({ j: { owner: "o" } }, noSources)))).toEqual([
      'bistro_settings.nodes.node_sources is empty: only the instance node exists, so jobs on level "host" have no tasks',
    ]);
  });

  it("has nothing to say about a healthy config", () => {
    expect(idleReasons(parseValid(bistroFixture("db-hosts.json")))).toEqual([]);
  });
});

describe("Sous's container key: a job whose tasks run as their own ECS task", () => {
  const withJob = (job: Record<string, unknown>) => parseValid(configDocument({ j: { owner: "o", ...job } }));

  it("reads task_definition, cpu, memory and role without any unknown-key warning", () => {
    const config = withJob({
      container: { task_definition: "render", cpu: 2048, memory: 4096, role: "arn:aws:iam::1:role/r" },
    });
    expect(config.jobs.j?.container).toEqual({
      taskDefinition: "render",
      cpu: 2048,
      memoryMiB: 4096,
      role: "arn:aws:iam::1:role/r",
    });
    expect(config.warnings).toEqual([]);
    expect(config.jobs.j?.errors).toEqual([]);
  });

  it("names what is wrong: a missing task definition, sizes past a Fargate task's largest, unknown keys", () => {
    const config = withJob({ container: { cpu: 20_000, memory: 0, image: "x" } });
    expect(byPath(config.jobs.j!.errors)).toEqual({
      "bistro_job->j.container.task_definition": expect.stringContaining("required") as unknown,
      "bistro_job->j.container.cpu": "cpu is at most 16384 (a Fargate task's largest)",
      "bistro_job->j.container.memory": expect.stringContaining(">= 1") as unknown,
    });
    expect(Object.keys(byPath(config.warnings))).toEqual(["bistro_job->j.container.image"]);
  });
});
