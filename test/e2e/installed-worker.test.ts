// End to end: the npm artifact as a user installs it. `npm pack` builds the single-file CLI, the
// tarball installs into an empty directory, and its `sous worker` (with no environment but PATH
// and HOME: the registration answer names the table, bucket and emulator endpoints) runs tasks of
// a `sous local` deployment that has no workers of its own. Killed with -9 mid-task, its tasks die
// with it; a second installed worker runs them once the first is lost. Every task ends done and
// no task ever has two live processes at once.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { startLocalDeployment, type LocalDeployment } from "../../lib/local/deployment";
import { readJobTasks } from "../../lib/store/tasks";
import { uniqueName } from "../helpers/aws";

const ROOT = join(__dirname, "..", "..");
/** Short health timings, so a killed worker is lost in seconds rather than Bistro's ~10 minutes. */
const TIMINGS = { heartbeatPeriodSec: 1, heartbeatGraceSec: 5, loseUnhealthyAfterSec: 20, workerCheckIntervalSec: 2 };
const NODES = ["s1", "s2", "s3"];

jest.setTimeout(300_000);

/** Alive and not a zombie. */
function isRunning(pid: number): boolean {
  try {
    return !readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.startsWith("Z");
  } catch {
    return false;
  }
}

async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, seconds = 150): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A task that records its node and pid, then becomes (exec) one process that reports done after 3 s. */
function writeTask(dir: string): string {
  const path = join(dir, "task.sh");
  writeFileSync(
    path,
    [
      "#!/bin/sh",
      `echo "$1 $$" >> '${join(dir, "runs")}'`,
      'echo "running $1"',
      'echo "a line on stderr" >&2',
      `exec '${process.execPath}' -e 'setTimeout(() => require("fs").writeFileSync(process.argv[1], "done\\n"), 3000)' "$2"`,
      "",
    ].join("\n"),
  );
  chmodSync(path, 0o755);
  return path;
}

function runs(dir: string): { node: string; pid: number }[] {
  const file = join(dir, "runs");
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((line) => {
      const [node = "", pid = "0"] = line.split(" ");
      return { node, pid: Number(pid) };
    });
}

describe("the installed npm package's sous worker", () => {
  let deployment: LocalDeployment | undefined;
  const workers: ChildProcess[] = [];
  afterAll(async () => {
    for (const worker of workers) worker.kill("SIGKILL");
    await deployment?.stop();
  });

  it("installs from npm pack, runs tasks with no environment, and survives kill -9 without overlap", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sous-installed-"));
    execFileSync("npm", ["pack", "--pack-destination", dir, "--silent"], { cwd: ROOT, stdio: "pipe" });
    const tarball = readdirSync(dir).find((f) => f.endsWith(".tgz"));
    expect(tarball).toBeDefined();
    const installDir = join(dir, "install");
    execFileSync("mkdir", [installDir]);
    execFileSync("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", join(dir, tarball!)], {
      cwd: installDir,
      stdio: "pipe",
    });
    const sous = join(installDir, "node_modules", ".bin", "sous");
    expect(existsSync(sous)).toBe(true);
    // Installed, the package has the bundle and no sources: nothing needs tsx.
    expect(existsSync(join(installDir, "node_modules", "sous", "lib"))).toBe(false);
    expect(existsSync(join(installDir, "node_modules", "tsx"))).toBe(false);

    const task = writeTask(dir);
    deployment = await startLocalDeployment({
      name: uniqueName("inst"),
      workers: 0,
      workerCommand: task,
      dataDir: join(dir, "local"),
      port: 0,
      workerTimings: TIMINGS,
      config: {
        bistro_settings: {
          enabled: true,
          nodes: {
            levels: ["shard"],
            node_sources: [{ source: "manual", prefs: Object.fromEntries(NODES.map((n) => [n, []])) }],
          },
          resources: {},
        },
        "bistro_job->long": { owner: "e2e" },
      },
    });
    const apiUrl = deployment.apiUrl;
    const startWorker = (id: string) => {
      const child = spawn(
        sous,
        [
          "worker",
          "--api",
          apiUrl,
          "--command",
          task,
          "--id",
          id,
          "--heartbeat-period",
          "1",
          "--receive-wait-sec",
          "1",
        ],
        {
          cwd: installDir,
          // No AWS or Sous variables at all: the registration answer carries what the worker needs.
          env: { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, HOME: join(dir, `home-${id}`) },
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let output = "";
      child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
      workers.push(child);
      return { child, output: () => output };
    };

    // Watch every recorded task process: never two live ones for the same node.
    const overlaps: string[] = [];
    const watcher = setInterval(() => {
      const live = runs(dir).filter((r) => isRunning(r.pid));
      for (const node of NODES) {
        if (live.filter((r) => r.node === node).length > 1) overlaps.push(node);
      }
    }, 50);
    try {
      const first = startWorker("worker-a");
      const started = await until("all three tasks to start on worker-a", () =>
        runs(dir).length === NODES.length ? runs(dir) : undefined,
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}; worker-a said:\n${first.output()}`);
      });
      expect(first.output()).toContain("registered as worker-a");
      first.child.kill("SIGKILL");
      // At once, so the scheduler (not the test) must keep worker-b off tasks worker-a may still run.
      const second = startWorker("worker-b");
      await until("worker-a's tasks to die with it", () =>
        started.every((r) => !isRunning(r.pid)) ? true : undefined,
      );
      const store = deployment.store;
      const tasks = await until("every task to be done", async () => {
        const items = await readJobTasks(store, "long");
        return items.length === NODES.length && items.every((t) => t.state === "done") ? items : undefined;
      });
      expect(tasks.map((t) => t.node).sort()).toEqual(NODES);
      expect(second.output()).toMatch(/end {4}long {2}s\d {2}-> done/);
      // Three attempts on worker-a (killed), then three on worker-b.
      expect(runs(dir).length).toBe(2 * NODES.length);
      expect(overlaps).toEqual([]);
      second.child.kill("SIGTERM");
    } finally {
      clearInterval(watcher);
    }
  });
});
