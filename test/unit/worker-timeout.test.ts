// A job's maximum runtime (`attempt_duration_seconds`, AWS Batch's attemptDurationSeconds): the
// config key and its limits, the start order carrying it, the worker killing an attempt that runs
// past it (a real task, no AWS), and the end recorded as error_backoff. Nothing asserts how long
// anything took.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { serializeConfig } from "../../lib/config/serialize";
import { MAX_ATTEMPT_DURATION_SECONDS } from "../../lib/config/job";
import type { StartMessage, TaskEnd } from "../../lib/dispatch/messages";
import { StatusValues } from "../../lib/model/status";
import { reportedStatusOf } from "../../lib/round/apply-statuses";
import { buildStartMessage } from "../../lib/round/start-message";
import { BISTRO_WORKER_TIMINGS } from "../../lib/scheduler/worker-health";
import { IGNORED_SETTINGS_WARNINGS, startWorker, type LogLine } from "../../lib/worker/daemon";
import { MemoryInbox } from "../../lib/worker/inbox";
import { runTask } from "../../lib/worker/task-process";
import { hostCgroupFs, TaskCgroups } from "../../lib/worker/task-cgroups";
import { configDocument, parseValid } from "../helpers/config";
import { makeJob } from "../helpers/model";

const FIXTURES = join(__dirname, "..", "fixtures", "tasks");
let dataDir: string;
beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), "sous-timeout-"));
});
afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

describe("attempt_duration_seconds in the config", () => {
  it("is read, serialized, and null when absent", () => {
    const config = parseValid(
      configDocument({ capped: { owner: "o", attempt_duration_seconds: 90 }, free: { owner: "o" } }),
    );
    expect(config.jobs.capped?.attemptDurationSec).toBe(90);
    expect(config.jobs.free?.attemptDurationSec).toBeNull();
    const json = serializeConfig(config) as Record<string, Record<string, unknown>>;
    expect(json["bistro_job->capped"]?.attempt_duration_seconds).toBe(90);
    expect(json["bistro_job->free"]).not.toHaveProperty("attempt_duration_seconds");
  });

  it.each([0, -5, 1.5, MAX_ATTEMPT_DURATION_SECONDS + 1, "60"])(
    "makes the job invalid for %j, naming the key",
    (bad) => {
      const config = parseValid(configDocument({ j: { owner: "o", attempt_duration_seconds: bad } }));
      const job = config.jobs.j!;
      expect(job.attemptDurationSec).toBeNull();
      expect(job.errors.map((e) => e.path)).toEqual(["bistro_job->j.attempt_duration_seconds"]);
    },
  );

  it("travels in the start order in milliseconds", () => {
    const details = {
      node: "n",
      attempt: "a",
      token: "t",
      workerId: "w",
      workerInstance: "i",
      workerHost: "h",
      listDeadlineMs: 0,
      pathToNode: ["instance", "n"],
      resourcesByNode: {},
      previous: undefined,
    };
    expect(buildStartMessage({ ...details, job: makeJob("j", { attemptDurationSec: 5 }) }).maxRuntimeMs).toBe(5000);
    expect(buildStartMessage({ ...details, job: makeJob("j") })).not.toHaveProperty("maxRuntimeMs");
  });
});

describe("the worker enforces it", () => {
  it("runTask kills a task that outlives its limit and says so", async () => {
    const result = await runTask({
      jobName: "j",
      nodeName: "n",
      jobJson: "{}",
      jobCommand: [join(FIXTURES, "ignore-term.sh")],
      workerCommand: "",
      attempt: "a1",
      workerId: "w",
      dataDir,
      subprocess: { pollMs: 10, maxLogLinesPerPollInterval: 0, useCanaryPipe: true },
      onOutput: () => undefined,
      maxRuntimeMs: 300,
      timeoutKillWaitMs: 50,
    }).result;
    expect(result).toMatchObject({ timedOutAfterMs: 300, killed: true, signal: "SIGKILL" });
  });

  it("a task that ends in time is not marked", async () => {
    const result = await runTask({
      jobName: "j",
      nodeName: "n",
      jobJson: "{}",
      jobCommand: [join(FIXTURES, "demo_bistro_task.sh")],
      workerCommand: "",
      attempt: "a2",
      workerId: "w",
      dataDir,
      subprocess: { pollMs: 10, maxLogLinesPerPollInterval: 0, useCanaryPipe: true },
      onOutput: () => undefined,
      maxRuntimeMs: 60_000,
    }).result;
    expect(result.rawStatus).toBe("done");
    expect(result).not.toHaveProperty("timedOutAfterMs");
  });

  it("the daemon reports the timeout in the end, recorded as error_backoff, and in the statuses stream", async () => {
    const inbox = new MemoryInbox();
    const ends: TaskEnd[] = [];
    const lines: LogLine[] = [];
    const warnings: string[] = [];
    const worker = await startWorker(
      {
        controlPlane: {
          register: () =>
            Promise.resolve({
              queueUrl: "q",
              statusQueueUrl: "s",
              timings: BISTRO_WORKER_TIMINGS,
              heartbeatSecret: "k",
            }),
          heartbeat: () => Promise.resolve({ ok: true }),
        },
        logs: {
          append: (line) => {
            lines.push(line);
            return Promise.resolve();
          },
          appendLines: () => undefined,
          flush: () => Promise.resolve(),
          close: () => Promise.resolve(),
        },
        inbox: () => inbox,
        sendBodies: (_url, bodies) => {
          for (const body of bodies) ends.push(...(JSON.parse(body) as { ends: TaskEnd[] }).ends);
          return Promise.resolve({ failed: [], requests: 1 });
        },
        onEvent: (event) => {
          if (event.type === "warning") warnings.push(event.message);
        },
        taskCgroups: () =>
          Promise.resolve(new TaskCgroups({ enforced: false, reason: "no cgroup v2 here" }, hostCgroupFs, undefined)),
      },
      { id: "w", command: "", dataDir, killWaitMs: 100, endBatchWindowMs: 0 },
    );
    const start: StartMessage = {
      type: "start",
      job: "j",
      node: "n",
      attempt: "a3",
      token: "t3",
      command: [join(FIXTURES, "sleep-forever.sh")],
      taskJson: {},
      killRequest: { method: "term", killWaitMs: 0 },
      pollMs: 10,
      maxLogLinesPerPollInterval: 50,
      maxRuntimeMs: 200,
    };
    inbox.push(JSON.stringify(start));
    for (let i = 0; i < 400 && ends.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    await worker.stop();
    const [end] = ends;
    expect(end).toMatchObject({ attempt: "a3", timedOutAfterMs: 200, killed: true });
    expect(reportedStatusOf(end!)).toEqual({
      bits: StatusValues.ERROR_BACKOFF,
      data: { exception: "Task killed after exceeding its maximum runtime of 0.2 s" },
    });
    const events = lines
      .filter((l) => l.stream === "statuses")
      .map((l) => (JSON.parse(l.text) as { event: string }).event);
    expect(events).toEqual(["running", "timed_out", "process_exited"]);
    // The worker says plainly at start which Bistro settings it does not apply.
    expect(warnings).toEqual(["per-task limits are not enforced: no cgroup v2 here", ...IGNORED_SETTINGS_WARNINGS]);
  });
});
