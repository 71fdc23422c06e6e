// The `sous` commands against a real local deployment (API on 127.0.0.1, emulators, one worker
// running Bistro's demo task): each command run in-process through buildProgram() with its
// output and exit code captured, plus two runs of bin/sous.js as a user runs it.
import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { CommanderError } from "commander";
import { commanderExitCode, buildProgram } from "../../lib/cli/main";
import type { CliIo } from "../../lib/cli/io";
import { startLocalDeployment, type LocalDeployment } from "../../lib/local/deployment";
import { uniqueName } from "../helpers/aws";

const ROOT = join(__dirname, "..", "..");
const DEMO_TASK = join(ROOT, "events", "bistro", "demo_bistro_task.sh");
const DEMO_CONFIG = join(ROOT, "events", "bistro", "simple.json");

interface Run {
  out: string[];
  err: string[];
  code: number;
}

interface RunOptions {
  fetch?: typeof fetch;
  env?: NodeJS.ProcessEnv;
  /** Called once the command listens for interrupts, with a way to send one. */
  onInterruptible?: (interrupt: () => void) => void;
  /** Called with each output line as it is printed. */
  onOut?: (line: string, out: string[]) => void;
}

/** Runs `sous ARGS` in-process. */
async function sous(args: string[], options: RunOptions = {}): Promise<Run> {
  const run: Run = { out: [], err: [], code: 0 };
  const listeners = new Set<(signal: string) => void>();
  const io: CliIo = {
    out: (line) => {
      run.out.push(line);
      options.onOut?.(line, run.out);
    },
    err: (line) => run.err.push(line),
    setExitCode: (code) => {
      run.code = code;
    },
    onInterrupt(listener) {
      listeners.add(listener);
      options.onInterruptible?.(() => {
        for (const l of listeners) l("SIGINT");
      });
      return () => listeners.delete(listener);
    },
    env: options.env ?? { ...process.env, SOUS_API: api },
    ...(options.fetch ? { fetch: options.fetch } : {}),
  };
  try {
    await buildProgram(io).parseAsync(args, { from: "user" });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    run.code = commanderExitCode(error);
  }
  return run;
}

// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the shape it expects
const json = <T>(run: Run) => JSON.parse(run.out.join("\n")) as T;

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const hrefOf = (input: Parameters<typeof fetch>[0]) =>
  typeof input === "string" ? input : input instanceof URL ? input.href : input.url;

interface TaskJson {
  job: string;
  node: string;
  state: string;
  label: string;
  running?: { attempt: string; worker: string };
}

async function tasks(...filters: string[]): Promise<TaskJson[]> {
  const run = await sous(["tasks", "--json", ...filters]);
  expect(run.code).toBe(0);
  return json<{ tasks: TaskJson[] }>(run).tasks;
}

let api = "";
let deployment: LocalDeployment;
let dir: string;
const demo = JSON.parse(readFileSync(DEMO_CONFIG, "utf8")) as Record<string, unknown>;

function writeConfig(name: string, document: Record<string, unknown>): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(document, null, 2));
  return path;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sous-cli-"));
  deployment = await startLocalDeployment({
    name: uniqueName("cli"),
    workers: 1,
    workerCommand: DEMO_TASK,
    dataDir: mkdtempSync(join(tmpdir(), "sous-cli-data-")),
    port: 0,
  });
  api = deployment.apiUrl;
});

afterAll(async () => {
  await deployment.stop();
});

describe("sous CLI against a local deployment", () => {
  test("before any config, jobs is a 404: exit 4 with the API's message", async () => {
    const run = await sous(["jobs"]);
    expect(run.code).toBe(4);
    expect(run.err.join("\n")).toMatch(/No config is stored yet.*HTTP 404 not_found/);
  });

  test("an unreachable API is exit 5 with the hint to start sous local", async () => {
    const run = await sous(["--api", "http://127.0.0.1:1", "jobs"]);
    expect(run.code).toBe(5);
    expect(run.err.join("\n")).toContain(
      "Cannot reach the Sous API at http://127.0.0.1:1: is `sous local` running? (or pass --api)",
    );
  });

  test("apply of an invalid file prints every problem, exits 2 and stores nothing", async () => {
    const settings = demo.bistro_settings as Record<string, unknown>;
    const bad = writeConfig("bad.json", {
      ...demo,
      bistro_settings: {
        ...settings,
        enabled: "yes",
        resources: { instance: { concurrency: { limit: 3, default: 1.5 } } },
      },
    });
    const run = await sous(["apply", bad]);
    expect(run.code).toBe(2);
    const err = run.err.join("\n");
    expect(err).toContain("bistro_settings.enabled");
    expect(err).toContain("bistro_settings.resources.instance.concurrency.default");
    expect((await sous(["jobs"])).code).toBe(4);
  });

  test("a usage error (missing argument) is exit 2", async () => {
    const run = await sous(["kill", "only-a-job"]);
    expect(run.code).toBe(2);
    expect(run.err.join("\n")).toContain("missing required argument");
  });

  test("apply --dry-run prints the diff and stores nothing", async () => {
    const human = await sous(["apply", "--dry-run", DEMO_CONFIG]);
    expect(human.code).toBe(0);
    expect(human.out).toContain("+ job simple_job");
    expect(human.out).toContain("~ bistro_settings.resources");
    const machine = await sous(["apply", "--dry-run", "--json", DEMO_CONFIG]);
    expect(json<{ storedVersion: number; diff: unknown }>(machine)).toEqual({
      storedVersion: 0,
      diff: {
        settingsChanged: Object.keys(demo.bistro_settings as object).sort(),
        jobsAdded: ["simple_job"],
        jobsRemoved: [],
        jobsChanged: {},
      },
      invalidJobs: {},
    });
    expect((await sous(["jobs"])).code).toBe(4);
  });

  test("apply stores the config, and a round runs the demo's four tasks", async () => {
    const run = await sous(["apply", DEMO_CONFIG]);
    expect(run.code).toBe(0);
    expect(run.out[0]).toBe("Stored config version 1 (was none).");
    const done = await until("the demo's tasks to finish", async () => {
      const list = await tasks("--state", "done");
      return list.length === 4 ? list : undefined;
    });
    expect(done.map((t) => t.node).sort()).toEqual(["node11", "node12", "node21", "node22"]);
    expect(done.every((t) => t.job === "simple_job" && t.label === "done")).toBe(true);
  });

  test("jobs: a table, and --json is the API's {version, jobs}", async () => {
    const human = await sous(["jobs"]);
    expect(human.out[0]?.split(/\s+/)).toEqual(["NAME", "ENABLED", "OWNER", "PRIORITY", "LEVEL", "ERRORS"]);
    expect(human.out[1]?.split(/\s+/)).toEqual(["simple_job", "true", "test", "1", "level2", "0"]);
    const machine = json<{ version: number; jobs: Record<string, { owner: string }> }>(await sous(["jobs", "--json"]));
    expect(machine.version).toBe(1);
    expect(Object.keys(machine.jobs)).toEqual(["simple_job"]);
    expect(machine.jobs.simple_job?.owner).toBe("test");
  });

  test("tasks: filters by node and state, table columns", async () => {
    expect((await tasks("--node", "node12")).map((t) => t.node)).toEqual(["node12"]);
    expect(await tasks("--state", "failed")).toEqual([]);
    const human = await sous(["tasks", "--job", "simple_job"]);
    expect(human.out[0]?.split(/\s+/)).toEqual(["JOB", "NODE", "STATE", "ATTEMPT", "WORKER", "STARTED", "STATUS"]);
    expect(human.out).toHaveLength(5);
    expect(human.out[1]).toMatch(/^simple_job\s+node11\s+done\s+\S+\s+-\s+-\s+done$/);
  });

  test("nodes: --level and --json shape", async () => {
    const machine = json<{ levels: string[]; nodes: { name: string; level: string; parent: string }[] }>(
      await sous(["nodes", "--json", "--level", "level1"]),
    );
    expect(machine.levels).toEqual(expect.arrayContaining(["level1", "level2"]));
    expect(machine.nodes.map((n) => n.name)).toEqual(["node1", "node2"]);
    const human = await sous(["nodes"]);
    expect(human.out[0]?.split(/\s+/)).toEqual(["NAME", "LEVEL", "PARENT", "ENABLED", "TAGS"]);
    expect(human.out.some((line) => /^node21\s+level2\s+node2\s+true/.test(line))).toBe(true);
    expect((await sous(["nodes", "--level", "nope"])).code).toBe(2);
  });

  test("workers lists the deployment's worker as healthy", async () => {
    const machine = json<{ workers: { id: string; state: string }[] }>(await sous(["workers", "--json"]));
    expect(machine.workers.map((w) => [w.id, w.state])).toEqual([["local-1", "healthy"]]);
    const human = await sous(["workers"]);
    expect(human.out[1]).toMatch(/^local-1\s+healthy\s/);
  });

  test("logs shows the demo task's stdout and stderr lines, and --json objects", async () => {
    const stdout = await until("the demo's stdout in the log", async () => {
      const run = await sous(["logs", "simple_job", "node11"]);
      return run.out.length > 0 ? run : undefined;
    });
    expect(stdout.code).toBe(0);
    expect(stdout.out).toHaveLength(1);
    expect(stdout.out[0]).toMatch(/^demo task for node node11: /);
    const stderr = await sous(["logs", "simple_job", "node11", "--type", "stderr"]);
    expect(stderr.out).toEqual(["demo task: this line goes to stderr"]);
    const machine = await sous(["logs", "simple_job", "node21", "--json"]);
    const line = JSON.parse(machine.out[0] ?? "{}") as Record<string, unknown>;
    expect(line).toEqual({
      job: "simple_job",
      node: "node21",
      time: expect.any(Number) as unknown,
      line: expect.stringMatching(/^demo task for node node21: /) as unknown,
      lineId: expect.stringMatching(/^\d+$/) as unknown,
    });
    expect((await sous(["logs", "simple_job", "node11", "--type", "stdin"])).code).toBe(2);
  });

  test("apply --dry-run against the stored config shows changed, added and removed jobs", async () => {
    const next = writeConfig("next.json", {
      bistro_settings: demo.bistro_settings,
      "bistro_job->simple_job": { owner: "test", enabled: true, priority: 5 },
      "bistro_job->other": { owner: "me", enabled: false },
    });
    const run = await sous(["apply", "--dry-run", next]);
    expect(run.out).toEqual([
      "Dry run against stored version 1; nothing stored.",
      "+ job other",
      "~ job simple_job (priority)",
    ]);
    const removed = writeConfig("removed.json", { bistro_settings: { ...(demo.bistro_settings as object) } });
    expect((await sous(["apply", "--dry-run", removed])).out).toContain("- job simple_job");
    expect((await sous(["apply", "--dry-run", DEMO_CONFIG])).out).toContain("No changes.");
    expect(json<{ version: number }>(await sous(["jobs", "--json"])).version).toBe(1);
  });

  test("apply over a config changed meanwhile is a conflict: exit 3, the other write kept", async () => {
    const mine = writeConfig("mine.json", {
      ...demo,
      "bistro_job->simple_job": { owner: "mine", enabled: true },
    });
    const theirs = { ...demo, "bistro_job->simple_job": { owner: "theirs", enabled: true } };
    // Another client stores a version between this apply's read and its write.
    const racing: typeof fetch = async (input, init) => {
      if (init?.method === "PUT") {
        await fetch(`${api}/config`, {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(theirs),
        });
      }
      return fetch(input, init);
    };
    const run = await sous(["apply", mine], { fetch: racing });
    expect(run.code).toBe(3);
    expect(run.err.join("\n")).toMatch(/The config changed while applying .*mine\.json/);
    const jobs = json<{ version: number; jobs: Record<string, { owner: string }> }>(await sous(["jobs", "--json"]));
    expect(jobs.version).toBe(2);
    expect(jobs.jobs.simple_job?.owner).toBe("theirs");
  });

  test("kill a running task, follow its log, forgive it and it runs again", async () => {
    const sleeper = join(dir, "sleeper.sh");
    writeFileSync(sleeper, '#!/bin/bash\necho "sleeping on $1"\nexec sleep 60\n');
    chmodSync(sleeper, 0o755);
    // Room for all 8 tasks, so the forgiven task can start again at once.
    const config = writeConfig("sleeper.json", {
      ...demo,
      bistro_settings: {
        ...(demo.bistro_settings as object),
        resources: { instance: { concurrency: { limit: 10, default: 1 } } },
      },
      "bistro_job->sleeper": { owner: "test", enabled: true, command: [sleeper] },
    });
    expect((await sous(["apply", config])).code).toBe(0);
    const running = await until("a sleeper task to run", async () => {
      const [task] = await tasks("--job", "sleeper", "--state", "running");
      return task;
    });
    const node = running.node;
    // "running" is the scheduler's word once the start order is out; on a loaded machine the
    // process may not have printed yet, and a kill then ends it with no line at all.
    await until("the sleeper's first line in its log", async () => {
      const run = await sous(["logs", "sleeper", node]);
      return run.out.includes(`sleeping on ${node}`) ? true : undefined;
    });
    const kill = await sous(["kill", "sleeper", node]);
    expect(kill.code).toBe(0);
    expect(kill.out[0]).toMatch(new RegExp(`^Kill order sent: sleeper ${node} attempt \\S+ on worker local-1 `));
    const killed = await until("the killed task to end", async () => {
      const [task] = await tasks("--job", "sleeper", "--node", node);
      return task && task.state !== "running" ? task : undefined;
    });
    expect(killed.state).toBe("backoff");

    // Follow the task's log while it is forgiven and runs again: a second line appears.
    let interrupt: (() => void) | undefined;
    let shown = 0;
    const follow = sous(["logs", "--follow", "sleeper", node], {
      onInterruptible: (send) => {
        interrupt = send;
        if (shown >= 2) send();
      },
      onOut: (_line, out) => {
        shown = out.length;
        if (shown >= 2) interrupt?.();
      },
    });
    const forgive = await sous(["forgive", "sleeper", node]);
    expect(forgive.out).toEqual([`Forgave sleeper ${node}.`]);
    const followed = await follow;
    expect(followed.code).toBe(0);
    expect(followed.out).toEqual([`sleeping on ${node}`, `sleeping on ${node}`]);

    const job = json<{ jobs: string[]; forgiven: number }>(await sous(["forgive", "sleeper", "--json"]));
    expect(job.jobs).toEqual(["sleeper"]);
    expect(typeof job.forgiven).toBe("number");
    expect((await sous(["kill", "no_such_job", "node11"])).code).toBe(4);
    expect((await sous(["forgive", "no_such_job"])).code).toBe(4);
    const notRunning = await sous(["kill", "simple_job", "node11"]);
    expect(notRunning.code).toBe(3);
    expect(notRunning.err.join("\n")).toContain("it is not running");
  });

  test("bin/sous.js as a user runs it: SOUS_API, --json and exit codes", async () => {
    const bin = join(ROOT, "bin", "sous.js");
    const { stdout } = await promisify(execFile)("node", [bin, "jobs", "--json"], {
      env: { ...process.env, SOUS_API: api },
    });
    expect(Object.keys((JSON.parse(stdout) as { jobs: object }).jobs)).toContain("simple_job");
    const failed = await promisify(execFile)("node", [bin, "--api", api, "kill", "no_such_job", "n"]).catch(
      (error: unknown) => error as { code: number; stderr: string },
    );
    expect(failed).toMatchObject({ code: 4, stderr: expect.stringContaining("Unknown job no_such_job") as unknown });
  });
});

describe("sous worker: the daemon over the HTTP control plane", () => {
  let workerDeployment: LocalDeployment;
  let name: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    name = uniqueName("cli-worker");
    // No workers of its own: every task of the demo must run on `sous worker`.
    workerDeployment = await startLocalDeployment({
      name,
      workers: 0,
      workerCommand: DEMO_TASK,
      dataDir: mkdtempSync(join(tmpdir(), "sous-cli-data-")),
      port: 0,
      config: demo,
    });
    env = { ...process.env, SOUS_API: workerDeployment.apiUrl };
  });

  afterAll(async () => {
    await workerDeployment.stop();
  });

  const workerArgs = (id: string) => [
    "worker",
    "--command",
    DEMO_TASK,
    "--data-dir",
    mkdtempSync(join(tmpdir(), "sous-cli-worker-")),
    "--id",
    id,
    "--resources",
    "cpu=2,ram_gb=4",
    "--heartbeat-period",
    "1",
    "--receive-wait-sec",
    "1",
  ];

  test("registers through POST /workers, runs the demo's tasks, logs to S3, stops on an interrupt", async () => {
    let interrupt: (() => void) | undefined;
    // No --log-bucket/--table: the registration answer names them.
    const worker = sous(workerArgs("cli-worker"), {
      env: { ...env, SOUS_LOG_BUCKET: "", SOUS_TABLE: "" },
      onInterruptible: (send) => (interrupt = send),
    });
    const ends = await until("the worker to run the demo's four tasks", async () => {
      const run = await sous(["tasks", "--json", "--state", "done"], { env });
      const done = json<{ tasks: TaskJson[] }>(run).tasks;
      return done.length === 4 ? done : undefined;
    });
    expect(ends.map((t) => t.node).sort()).toEqual(["node11", "node12", "node21", "node22"]);

    const workers = json<{ workers: { id: string; state: string; resources: object }[] }>(
      await sous(["workers", "--json"], { env }),
    );
    expect(workers.workers).toEqual([
      expect.objectContaining({ id: "cli-worker", state: "healthy", resources: { cpu: 2, ram_gb: 4 } }),
    ]);
    const logs = await until("the worker's log segment", async () => {
      const run = await sous(["logs", "simple_job", "node22"], { env });
      return run.out.length > 0 ? run.out : undefined;
    });
    expect(logs[0]).toMatch(/^demo task for node node22: /);

    // A second instance under the same id is refused while this one is alive: exit 3.
    const duplicate = await sous(workerArgs("cli-worker"), { env });
    expect(duplicate.code).toBe(3);
    expect(duplicate.err.join("\n")).toContain("cli-worker");

    interrupt?.();
    const run = await worker;
    expect(run.code).toBe(0);
    expect(run.err).toEqual([expect.stringContaining("SIGINT: stopping after running tasks finish")]);
    const lines = run.out.join("\n");
    expect(lines).toMatch(/registered as cli-worker/);
    expect(lines).toMatch(/end {4}simple_job {2}node11 {2}-> done/);
    expect(lines).toMatch(/exited \(stopped\)/);
  });

  test("with no log bucket from the registration or the flags it refuses to start (exit 2)", async () => {
    // An API that does not name the log destination (an older one).
    const withoutSetup: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (!hrefOf(input).endsWith("/workers")) return response;
      const { tableName: _t, logBucket: _b, ...rest } = (await response.json()) as Record<string, unknown>;
      return Response.json(rest, { status: response.status });
    };
    const run = await sous(workerArgs("cli-worker-2"), {
      env: { ...env, SOUS_LOG_BUCKET: "", SOUS_TABLE: "" },
      fetch: withoutSetup,
    });
    expect(run.code).toBe(2);
    expect(run.err.join("\n")).toContain("names no log table and bucket");
    expect(run.out.join("\n")).not.toMatch(/registered as/);
  });

  test("a worker whose heartbeat is refused stops on its own and exits 1", async () => {
    // The API answers this instance's heartbeats as it answers a replaced instance's.
    const refusing: typeof fetch = (input, init) =>
      hrefOf(input).endsWith("/heartbeat")
        ? Promise.resolve(Response.json({ ok: false, reason: "replaced by a test" }))
        : fetch(input, init);
    const run = await sous(workerArgs("cli-worker-3"), { env, fetch: refusing });
    expect(run.code).toBe(1);
    expect(run.err.join("\n")).toContain("the worker stopped on its own (rejected)");
  });
});
