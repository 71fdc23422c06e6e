// End to end: a whole local deployment (API on 127.0.0.1, rounds, status ingestion, workers
// running real subprocesses, S3 logs) replaying Bistro's first run, queried the way Bistro
// users query Bistro: `curl -d '{"a":{"handler":"jobs"},"b":{"handler":"running_tasks"}}'`.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLocalDeployment, type LocalDeployment } from "../../lib/local/deployment";
import type { WorkerEvent } from "../../lib/worker/daemon";
import { uniqueName } from "../helpers/aws";
import { DEMO_TASK, ROOT, SIMPLE, SLOW_TASK, until } from "../helpers/demo";

async function bistro(url: string, body: unknown): Promise<Record<string, { data?: unknown; error?: string }>> {
  const response = await fetch(`${url}/`, { method: "POST", body: JSON.stringify(body) });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, { data?: unknown; error?: string }>;
}

/** Tracks how many tasks run at once, from the workers' own events. */
function concurrency() {
  let running = 0;
  const state = { max: 0, ended: [] as string[] };
  const onWorkerEvent = (_worker: string, event: WorkerEvent) => {
    if (event.type === "task_started") state.max = Math.max(state.max, ++running);
    if (event.type === "task_ended") {
      running--;
      state.ended.push(`${event.end.node}:${event.end.rawStatus ?? "none"}`);
    }
  };
  return { state, onWorkerEvent };
}

describe("sous local with Bistro's simple config and demo task", () => {
  let deployment: LocalDeployment | undefined;
  afterEach(async () => {
    await deployment?.stop();
    deployment = undefined;
  });

  it("runs all 4 tasks to done, never more than 3 at once, and answers Bistro's queries with the task output", async () => {
    const { state, onWorkerEvent } = concurrency();
    deployment = await startLocalDeployment({
      name: uniqueName("e2e"),
      workers: 2,
      workerCommand: DEMO_TASK,
      dataDir: mkdtempSync(join(tmpdir(), "sous-e2e-")),
      port: 0,
      instanceName: "scheduler",
      config: SIMPLE,
      onWorkerEvent,
    });
    const url = deployment.apiUrl;
    await until(() => (state.ended.length >= 4 ? true : undefined), "4 tasks to end");
    expect(state.ended.map((e) => e.split(":")[1])).toEqual(["done", "done", "done", "done"]);
    expect(state.max).toBeLessThanOrEqual(3);
    expect(state.max).toBeGreaterThan(1);

    // Workers report ends before status ingestion records them: wait for the scheduler's view.
    const answer = await until(async () => {
      const a = await bistro(url, { a: { handler: "jobs" }, b: { handler: "running_tasks" } });
      return JSON.stringify(a.b) === JSON.stringify({ data: {} }) ? a : undefined;
    }, "running_tasks to be empty");
    expect(answer.a?.data).toMatchObject({ simple_job: { owner: "test", enabled: true, level_for_tasks: "level2" } });

    // Logs reach S3 within the writer's flush interval; Bistro's task_logs then has the demo's lines.
    const stdout = await until(async () => {
      const logs = await bistro(url, { x: { handler: "task_logs", log_type: "stdout" } });
      const lines = (logs.x?.data as { lines: [string, string, number, string, string][] } | undefined)?.lines ?? [];
      return lines.length >= 4 ? lines : undefined;
    }, "stdout lines in task_logs");
    expect(stdout.map(([job, node]) => `${job}/${node}`).sort()).toEqual([
      "simple_job/node11",
      "simple_job/node12",
      "simple_job/node21",
      "simple_job/node22",
    ]);
    for (const [, node, time, line, lineId] of stdout) {
      expect(line).toContain(`I got these arguments: ${node} /dev/fd/3 {`);
      expect(typeof time).toBe("number");
      expect(lineId).toMatch(/^\d+$/);
    }
    const stderr = await bistro(url, { y: { handler: "task_logs", log_type: "stderr", jobs: ["simple_job"] } });
    expect((stderr.y?.data as { lines: string[][] }).lines.map((l) => l[3])).toContain("stderr is also logged");
  });

  it("rejects an invalid config with every problem listed, and keeps running the previous one", async () => {
    const { state, onWorkerEvent } = concurrency();
    process.env.SLOW_TASK_SECONDS = "2";
    deployment = await startLocalDeployment({
      name: uniqueName("e2e"),
      workers: 1,
      workerCommand: SLOW_TASK,
      dataDir: mkdtempSync(join(tmpdir(), "sous-e2e-")),
      port: 0,
      instanceName: "scheduler",
      config: SIMPLE,
      onWorkerEvent,
    });
    const url = deployment.apiUrl;
    const running = await until(async () => {
      const answer = await bistro(url, { r: { handler: "running_tasks" } });
      const byNode = (answer.r?.data as Record<string, Record<string, unknown>> | undefined)?.simple_job;
      return byNode && Object.keys(byNode).length === 3 ? byNode : undefined;
    }, "3 running tasks");
    expect(Object.keys(running)).toHaveLength(3);

    const before = (await (await fetch(`${url}/config`)).json()) as { version: number };
    const broken = {
      bistro_settings: {
        enabled: "yes",
        scheduler: "fastest_first",
        nodes: { levels: ["level1"] },
        resources: { level9: { c: { limit: -1, default: 1 } } },
      },
      "bistro_job->simple_job": { owner: "test" },
    };
    const response = await fetch(`${url}/config`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(broken),
    });
    expect(response.status).toBe(400);
    const { error } = (await response.json()) as { error: { issues: { path: string; message: string }[] } };
    const paths = error.issues.map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        "bistro_settings.enabled",
        "bistro_settings.scheduler",
        "bistro_settings.resources.level9",
      ]),
    );
    const after = (await (await fetch(`${url}/config`)).json()) as { version: number };
    expect(after.version).toBe(before.version);

    // The previous config goes on: the running tasks finish and the 4th one runs too.
    await until(() => (state.ended.length >= 4 ? true : undefined), "all 4 tasks to finish");
    expect(state.ended.map((e) => e.split(":")[1])).toEqual(["done", "done", "done", "done"]);
    expect(state.max).toBeLessThanOrEqual(3);
  });
});

describe("npm start (sous local) as a user runs it", () => {
  it("replays Bistro's first run and reports all 4 tasks done", async () => {
    const child = spawn(
      process.execPath,
      [join(ROOT, "bin", "sous.js"), "local", "--port", "0", "--exit-when-done", "--name", uniqueName("e2e-cli")],
      { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect({ code, output }).toMatchObject({ code: 0 });
    expect(output).toContain("All runnable tasks have finished: 4 done.");
    expect(output.match(/-> done/g)).toHaveLength(4);
  });
});
