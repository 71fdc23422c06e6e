// A worker killed with SIGKILL mid-task: the task dies with it (parent death signal), the
// scheduler keeps the task as running on that worker until the lost-worker deadline, then
// retries it elsewhere only after the safety backoff: never two attempts at once.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { CreateQueueCommand } from "@aws-sdk/client-sqs";
import { readJobTasks } from "../../lib/store/tasks";
import { getWorker } from "../../lib/store/workers";
import { InProcessControlPlane } from "../../lib/worker/control-plane";
import { startWorker, type LogSink, type WorkerHandle } from "../../lib/worker/daemon";
import { uniqueName } from "../helpers/aws";
import { roundHarness } from "../helpers/round";

const TASK = join(__dirname, "..", "fixtures", "tasks", "pid-and-sleep.sh");
const discard: LogSink = {
  append: () => Promise.resolve(),
  appendLines: () => undefined,
  flush: () => Promise.resolve(),
  close: () => Promise.resolve(),
};

/** Alive and not a zombie (PID 1 here does not reap orphans). */
function isRunning(pid: number): boolean {
  try {
    return !readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.startsWith("Z");
  } catch {
    return false;
  }
}

async function until(check: () => boolean | Promise<boolean>, what: string, attempts = 200): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("kill -9 of a worker mid-task", () => {
  it("kills its task, and the task reruns elsewhere only after the lost-worker deadline and safety backoff", async () => {
    const h = await roundHarness();
    h.advance(Date.now() - h.now()); // workers heartbeat with the real clock; the scheduler's runs ahead later
    const dir = mkdtempSync(join(tmpdir(), "sous-kill9-"));
    const pidFile = join(dir, "task.pid");
    const prefix = uniqueName("k9");
    const { QueueUrl: statusQueue } = await h.store.aws.sqs.send(
      new CreateQueueCommand({ QueueName: `${prefix}-status` }),
    );
    let workerA: ChildProcess | undefined;
    let workerB: WorkerHandle | undefined;
    try {
      await h.setConfig({
        bistro_settings: {
          enabled: true,
          nodes: { levels: ["shard"], node_sources: [{ source: "manual", prefs: { only_shard: [] } }] },
          resources: {},
        },
        "bistro_job->long": { owner: "test" },
      });
      workerA = spawn(process.execPath, ["--import", "tsx", join(__dirname, "..", "fixtures", "worker-process.ts")], {
        env: {
          ...process.env,
          SOUS_TEST_TABLE: h.store.tableName,
          SOUS_TEST_QUEUE_PREFIX: prefix,
          SOUS_TEST_STATUS_QUEUE: statusQueue,
          SOUS_TEST_WORKER_ID: "worker-a",
          SOUS_TEST_COMMAND: TASK,
          SOUS_TEST_DATA_DIR: join(dir, "a"),
          PID_FILE: pidFile,
        },
        stdio: ["ignore", "pipe", "inherit"],
      });
      const events = createInterface({ input: workerA.stdout! });
      const registered = new Promise<void>((resolve) => {
        events.on("line", (line) => {
          if (line.includes('"type":"registered"')) resolve();
        });
      });
      await registered;

      const first = await h.round();
      expect(first.started.map((s) => s.worker)).toEqual(["worker-a"]);
      await until(() => existsSync(pidFile) && readFileSync(pidFile, "utf8").trim() !== "", "the task to start");
      const taskPid = Number(readFileSync(pidFile, "utf8"));
      expect(isRunning(taskPid)).toBe(true);

      workerA.kill("SIGKILL");
      await until(() => !isRunning(taskPid), "the task to die with its worker");

      // A second worker, in this process, on the scheduler's clock.
      workerB = await startWorker(
        {
          controlPlane: new InProcessControlPlane({
            store: h.store,
            sqs: h.store.aws.sqs,
            queuePrefix: prefix,
            statusQueueUrl: statusQueue!,
            clock: h.now,
          }),
          sqs: h.store.aws.sqs,
          logs: discard,
          clock: h.now,
          onEvent: () => undefined,
        },
        {
          id: "worker-b",
          command: TASK,
          dataDir: join(dir, "b"),
          receiveWaitSec: 1,
          baseEnv: { ...process.env, PID_FILE: join(dir, "b.pid") },
        },
      );

      // Until the deadline (heartbeat 15 s + grace 60 s + lose after 500 s) the task stays with worker-a.
      // Counted from worker-a's last recorded heartbeat (its own real clock), however slow the start was.
      const lastHeartbeatAtMs = (await getWorker(h.store, "worker-a"))!.heartbeatAtMs;
      h.advance(lastHeartbeatAtMs + 570_000 - h.now());
      await h.heartbeat("worker-a");
      const before = await h.round();
      expect(before.lostWorkers).toEqual([]);
      expect((await readJobTasks(h.store, "long"))[0]?.running?.worker).toBe("worker-a");

      h.advance(10_000);
      await h.heartbeat("worker-a");
      const lost = await h.round();
      expect(lost.lostWorkers).toEqual(["worker-a"]);
      expect(lost.started).toEqual([]);
      expect((await readJobTasks(h.store, "long"))[0]).toMatchObject({ state: "backoff", status: { backoffSec: 66 } });

      h.advance(67_000);
      await h.heartbeat("worker-a");
      const retry = await h.round();
      expect(retry.started.map((s) => s.worker)).toEqual(["worker-b"]);
      await until(() => existsSync(join(dir, "b.pid")), "the retry to start on worker-b");
      expect(isRunning(taskPid)).toBe(false);
    } finally {
      workerA?.kill("SIGKILL");
      for (const file of [pidFile, join(dir, "b.pid")]) {
        const pid = existsSync(file) ? Number(readFileSync(file, "utf8")) : 0;
        if (pid > 0 && isRunning(pid)) process.kill(pid, "SIGKILL");
      }
      await workerB?.stop({ graceful: false });
      h.destroy();
    }
  });
});
