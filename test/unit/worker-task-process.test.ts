// lib/worker/task-process.ts and its helpers (task-launch.ts, task-output.ts, output-lines.ts): Bistro's task protocol run against real bash tasks
// (test/fixtures/tasks/*.sh); no AWS. Nothing here asserts on how long anything took.
import fc from "fast-check";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { sliceTexts } from "../../lib/logs/segment-rows";
import { LineQuota, LineSplitter, MAX_LINE_BYTES } from "../../lib/worker/output-lines";
import { STATUS_PIPE_PATH } from "../../lib/worker/status-pipe";
import { jobWorkingDir, taskArgv, taskEnv, WORKER_CREDENTIAL_VARIABLES } from "../../lib/worker/task-launch";
import { runTask, type RunTaskOptions, type TaskHandle, type TaskResult } from "../../lib/worker/task-process";

jest.setTimeout(60_000); // the machine is shared; these only bound a hang

const FIXTURES = join(__dirname, "..", "fixtures", "tasks");
const fixture = (name: string) => join(FIXTURES, name);

let dataDir: string;
beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), "sous-task-process-"));
});
afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

/** True if `pid` is a live process. A zombie counts as dead: PID 1 here does not reap orphans. */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** One line as the sink got it: its read's stream and time. */
interface TaskOutputLine {
  stream: "stdout" | "stderr";
  text: string;
  timeMs: number;
}

interface StartedTask {
  handle: TaskHandle;
  lines: TaskOutputLine[];
  /** Resolves when a line with this text has been received. */
  lineSeen(text: string): Promise<void>;
  /** The pids a fixture printed as `child <pid>` on stdout. */
  childPids(): number[];
}

function startTask(overrides: Partial<RunTaskOptions> = {}): StartedTask {
  const lines: TaskOutputLine[] = [];
  const waiters: { text: string; resolve: () => void }[] = [];
  const handle = runTask({
    jobName: "job1",
    nodeName: "node1",
    jobJson: '{"id":"job1","config":{}}',
    jobCommand: [],
    workerCommand: fixture("demo_bistro_task.sh"),
    attempt: "attempt-1",
    workerId: "worker-1",
    dataDir,
    subprocess: { pollMs: 10, maxLogLinesPerPollInterval: 0, useCanaryPipe: true },
    onOutput: (stream, read, timeMs) => {
      for (const text of sliceTexts(read)) {
        lines.push({ stream, text, timeMs });
        for (const waiter of waiters) if (waiter.text === text) waiter.resolve();
      }
    },
    ...overrides,
  });
  return {
    handle,
    lines,
    lineSeen: (text) =>
      lines.some((line) => line.text === text)
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ text, resolve })),
    childPids: () =>
      lines.flatMap((line) => (line.text.startsWith("child ") ? [Number(line.text.slice("child ".length))] : [])),
  };
}

async function runScript(script: string, overrides: Partial<RunTaskOptions> = {}) {
  const task = startTask({ workerCommand: fixture(script), ...overrides });
  const result = await task.handle.result;
  return { ...task, result };
}

const texts = (lines: TaskOutputLine[], stream: "stdout" | "stderr") =>
  lines.filter((line) => line.stream === stream).map((line) => line.text);

describe("task command line, environment and working directory", () => {
  it("passes the job's command, then node, status pipe and job JSON; the worker's command when the job has none", () => {
    expect(taskArgv(["python3", "t.py", "--x"], "/bin/worker-cmd", "db7", "/dev/fd/3", "{}")).toEqual([
      "python3",
      "t.py",
      "--x",
      "db7",
      "/dev/fd/3",
      "{}",
    ]);
    expect(taskArgv([], "/bin/worker-cmd", "db7", "/dev/fd/3", '{"id":"j"}')).toEqual([
      "/bin/worker-cmd",
      "db7",
      "/dev/fd/3",
      '{"id":"j"}',
    ]);
  });

  it("adds the SOUS_* variables to the inherited environment", () => {
    const env = taskEnv(
      { PATH: "/bin", SOUS_JOB: "stale" },
      { jobName: "j", nodeName: "n", attempt: "a", workerId: "w" },
    );
    expect(env).toEqual({ PATH: "/bin", SOUS_JOB: "j", SOUS_NODE: "n", SOUS_ATTEMPT: "a", SOUS_WORKER_ID: "w" });
  });

  it("does not pass the worker's AWS credentials on to tasks (region and endpoints stay)", () => {
    const credentials = Object.fromEntries(WORKER_CREDENTIAL_VARIABLES.map((name) => [name, "secret"]));
    const env = taskEnv(
      { PATH: "/bin", AWS_REGION: "eu-west-1", AWS_ENDPOINT_URL_SQS: "http://127.0.0.1:1", ...credentials },
      { jobName: "j", nodeName: "n", attempt: "a", workerId: "w" },
    );
    expect(
      Object.keys(env)
        .filter((name) => name.startsWith("AWS_"))
        .sort(),
    ).toEqual(["AWS_ENDPOINT_URL_SQS", "AWS_REGION"]);
    expect(WORKER_CREDENTIAL_VARIABLES).toEqual(
      expect.arrayContaining(["AWS_SECRET_ACCESS_KEY", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]),
    );
  });

  it("runs tasks in <dataDir>/jobs/<job> and refuses job names that would leave it", () => {
    expect(jobWorkingDir("/data", "etl")).toBe("/data/jobs/etl");
    expect(jobWorkingDir("/data", "team/etl")).toBe("/data/jobs/team/etl");
    for (const bad of ["", "..", "../x", "a/../../b", "a\0b"]) {
      expect(() => jobWorkingDir("/data", bad)).toThrow(/working directory/);
    }
  });
});

describe("LineSplitter", () => {
  const split = (chunks: string[], max = MAX_LINE_BYTES) => {
    const splitter = new LineSplitter(max);
    const out = chunks.flatMap((chunk) => splitter.push(Buffer.from(chunk)).flatMap(sliceTexts));
    const rest = splitter.end();
    return rest === undefined ? out : [...out, ...sliceTexts(rest)];
  };

  it("splits at newlines across chunks, keeps empty lines and \\r, flushes an unterminated end", () => {
    expect(split(["a\nb", "c\n\nd\r\n", "tail"])).toEqual(["a", "bc", "", "d\r", "tail"]);
    expect(split(["a\n"])).toEqual(["a"]);
  });

  it("cuts lines longer than 65000 bytes into chunks, and keeps a line of exactly 65000", () => {
    const chunks = split(["x".repeat(65000) + "\n" + "y".repeat(140_000) + "\n"]);
    expect(chunks.map((chunk) => chunk.length)).toEqual([65000, 65000, 65000, 10000]);
  });

  it("never cuts a UTF-8 character in half and loses or reorders nothing (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: "grapheme", maxLength: 12 }), { maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 4, max: 10 }),
        (lines, cuts, maxBytes) => {
          // "\uFFFD" is excluded from the input so that any in the output means a cut character.
          const cleanLines = lines.map((line) => line.replace(/[\n\uFFFD]/g, ""));
          const input = Buffer.from(cleanLines.map((line) => line + "\n").join(""));
          const splitter = new LineSplitter(maxBytes);
          const out: Buffer[] = [];
          let offset = 0;
          for (let i = 0; offset < input.length; i++) {
            const size = cuts[i % cuts.length] ?? 1;
            for (const { data, bounds } of splitter.push(input.subarray(offset, offset + size))) {
              for (let j = 0; j < bounds.length; j += 2) out.push(data.subarray(bounds[j], bounds[j + 1]));
            }
            offset += size;
          }
          expect(splitter.end()).toBeUndefined();
          for (const chunk of out) {
            expect(chunk.length).toBeLessThanOrEqual(maxBytes);
            expect(chunk.toString("utf8")).not.toContain("\uFFFD");
          }
          expect(out.map(String).join("")).toBe(cleanLines.join(""));
          expect(out.length).toBeGreaterThanOrEqual(cleanLines.length);
        },
      ),
    );
  });
});

describe("LineQuota (fake clock)", () => {
  function fakeClock() {
    let nowMs = 0;
    const sleeps: number[] = [];
    return {
      clock: () => nowMs,
      sleep: (ms: number) => {
        sleeps.push(ms);
        nowMs += ms;
        return Promise.resolve();
      },
      advance: (ms: number) => (nowMs += ms),
      sleeps,
    };
  }

  it("allows N lines per interval, then pauses until the next interval (nothing is dropped)", async () => {
    const time = fakeClock();
    const quota = new LineQuota(3, 10, time.clock, time.sleep);
    for (let i = 0; i < 3; i++) await quota.take();
    expect(time.sleeps).toEqual([]);
    time.advance(4);
    await quota.take(); // the 4th line waits for the rest of the first interval
    expect(time.sleeps).toEqual([6]);
    await quota.take();
    await quota.take();
    expect(time.sleeps).toEqual([6]);
    await quota.take();
    expect(time.sleeps).toEqual([6, 10]);
  });

  it("grows without a cap while the task is quiet, as Bistro does", async () => {
    const time = fakeClock();
    const quota = new LineQuota(2, 10, time.clock, time.sleep);
    time.advance(50); // five more intervals: 2 + 5 * 2 = 12 lines in all
    for (let i = 0; i < 12; i++) await quota.take();
    expect(time.sleeps).toEqual([]);
    await quota.take();
    expect(time.sleeps).toHaveLength(1);
  });

  it("is disabled at <= 0", async () => {
    const time = fakeClock();
    const quota = new LineQuota(0, 10, time.clock, time.sleep);
    for (let i = 0; i < 1000; i++) await quota.take();
    expect(time.sleeps).toEqual([]);
  });
});

describe("runTask: statuses", () => {
  it("runs Bistro's demo task unchanged: status done, its stdout and stderr lines", async () => {
    const { result, lines } = await runScript("demo_bistro_task.sh", { nodeName: "host3", jobJson: '{"id":"job1"}' });
    expect(result.rawStatus).toBe("done");
    expect(result.spawnError).toBeUndefined();
    expect(texts(lines, "stdout")).toEqual([
      `demo task for node host3: status to ${STATUS_PIPE_PATH}, task JSON {"id":"job1"}`,
    ]);
    expect(texts(lines, "stderr")).toEqual(["demo task: this line goes to stderr"]);
  });

  it.each([
    "done",
    "incomplete",
    "error_backoff",
    "failed",
    '{"result": "done", "data": {"rows": 12}}',
    '{"result_bits": 8}',
    "  done  ", // returned raw: nothing but the newline is stripped
  ])("returns the status line %j raw", async (status) => {
    const { result } = await runScript("write-status.sh", { baseEnv: { ...process.env, FIXTURE_STATUS: status } });
    expect(result.rawStatus).toBe(status);
    expect(result.killed).toBe(false);
  });

  it('accepts `printf "done\\n" >> "$2"`', async () => {
    const { result } = await runScript("append-status.sh");
    expect(result.rawStatus).toBe("done");
  });

  it("keeps the last non-empty line of several writes and opens", async () => {
    const { result } = await runScript("several-status-lines.sh");
    expect(result.rawStatus).toBe('{"result": "incomplete", "data": {"step": 3}}  ');
  });

  it("reports no status when none was written", async () => {
    const { result, lines } = await runScript("no-status.sh", { nodeName: "db1" });
    expect(result).toMatchObject({ killed: false, exitCode: 0, signal: null });
    expect(result.rawStatus).toBeUndefined();
    expect(texts(lines, "stdout")).toEqual(["working on db1"]);
  });

  it("keeps `done` when the task then exits non-zero, and reports the exit code for logging", async () => {
    const { result } = await runScript("done-then-fail.sh");
    expect(result).toMatchObject({ rawStatus: "done", exitCode: 3, signal: null, killed: false });
  });

  it("runs the job's command array instead of the worker's command", async () => {
    const { result } = await runScript("no-status.sh", {
      jobCommand: ["/bin/bash", fixture("write-status.sh")],
      baseEnv: { ...process.env, FIXTURE_STATUS: "from the job command" },
    });
    expect(result.rawStatus).toBe("from the job command");
  });

  it("does not end the task while a descendant holds its pipes; that descendant's status counts", async () => {
    const { result, lines } = await runScript("status-from-descendant.sh");
    expect(texts(lines, "stdout")).toEqual(["child saw the parent exit"]);
    expect(result.rawStatus).toBe("done");
    expect(result.exitCode).toBe(0);
  });
});

describe("runTask: output", () => {
  it("streams both pipes line by line with the right stream, and sets argv, env and working directory", async () => {
    let clock = 1_000;
    const { result, lines } = await runScript("output.sh", {
      jobName: "team/etl",
      nodeName: "db 7",
      jobJson: '{"id":"team/etl","path_to_node":["i","db 7"]}',
      attempt: "att-9",
      workerId: "w-2",
      baseEnv: { ...process.env, FIXTURE_INHERITED: "inherited" },
      now: () => (clock += 1),
    });
    const workDir = join(dataDir, "jobs", "team", "etl");
    expect(result.rawStatus).toBe("done");
    expect(texts(lines, "stderr")).toEqual(["err 1", "err 2"]);
    const stdout = texts(lines, "stdout");
    expect(stdout.slice(0, 5)).toEqual([
      "out 1",
      "out 2",
      `cwd=${workDir}`,
      "env=team/etl|db 7|att-9|w-2|inherited",
      `argc=3 node=db 7 status=${STATUS_PIPE_PATH}`,
    ]);
    expect(stdout[5]).toBe('{"id":"team/etl","path_to_node":["i","db 7"]}');
    // The 70000-byte line arrives as a 65000-byte chunk and the rest; the unterminated last line is flushed.
    expect(stdout.slice(6)).toEqual(["a".repeat(65000), "a".repeat(5000), "no newline at the end"]);
    expect(existsSync(workDir)).toBe(true);
    // Timestamps come from the injected clock, in reading order per stream.
    const times = lines.filter((line) => line.stream === "stdout").map((line) => line.timeMs);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(result.startedAtMs).toBeLessThan(times[0]!);
    expect(result.endedAtMs).toBeGreaterThan(times[times.length - 1]!);
  });

  it("applies the line quota by pausing: every line arrives, in order", async () => {
    const { result, lines } = await runScript("many-lines.sh", {
      baseEnv: { ...process.env, FIXTURE_LINES: "300", FIXTURE_WIDTH: "10" },
      subprocess: { pollMs: 1, maxLogLinesPerPollInterval: 7, useCanaryPipe: true },
    });
    expect(result.rawStatus).toBe("done");
    expect(texts(lines, "stdout")).toEqual(Array.from({ length: 300 }, () => "x".repeat(10)));
  });

  it("keeps draining the pipes after the sink fails, and reports the failure", async () => {
    let calls = 0;
    const { result } = await runScript("many-lines.sh", {
      // More than a pipe buffer holds, so a worker that stopped reading would hang the task.
      baseEnv: { ...process.env, FIXTURE_LINES: "20000", FIXTURE_WIDTH: "100" },
      onOutput: () => {
        calls += 1;
        return Promise.reject(new Error("S3 is down"));
      },
    });
    expect(result.rawStatus).toBe("done");
    expect(result.outputError).toBe("Output sink failed: S3 is down");
    expect(calls).toBe(1);
  });
});

describe("runTask: process group and kills", () => {
  it("kills children that outlive the main process once the task has ended", async () => {
    const task = startTask({ workerCommand: fixture("fork-children.sh") });
    const result = await task.handle.result;
    const pids = task.childPids();
    expect(pids).toHaveLength(2);
    expect(result.rawStatus).toBe("done");
    expect(result.killed).toBe(false); // the cleanup is not a kill of the task
    for (const pid of pids) expect(isRunning(pid)).toBe(false);
  });

  it("saw those children alive while the task ran (so the check above is meaningful)", async () => {
    const alive: boolean[] = [];
    const task = startTask({
      workerCommand: fixture("fork-children.sh"),
      onOutput: (_stream, read) => {
        // The task cannot end while this sink is running, so the children are still there.
        for (const text of sliceTexts(read)) {
          if (text.startsWith("child ")) alive.push(isRunning(Number(text.slice("child ".length))));
        }
      },
    });
    await task.handle.result;
    expect(alive).toEqual([true, true]);
  });

  it("term_wait_kill: a task ignoring SIGTERM is killed by SIGKILL after the wait, with its children", async () => {
    const task = startTask({ workerCommand: fixture("ignore-term.sh") });
    await task.lineSeen("ready");
    expect(task.handle.kill({ method: "term_wait_kill", killWaitMs: 200 })).toBe(true);
    const result = await task.handle.result;
    expect(result).toMatchObject({ killed: true, signal: "SIGKILL", exitCode: null });
    expect(result.rawStatus).toBeUndefined();
    const [child] = task.childPids();
    expect(isRunning(child!)).toBe(false);
  });

  it("term: a task that reports a status on SIGTERM returns it, marked killed", async () => {
    const task = startTask({ workerCommand: fixture("term-writes-status.sh") });
    await task.lineSeen("ready");
    expect(task.handle.kill({ method: "term", killWaitMs: 0 })).toBe(true);
    const result = await task.handle.result;
    expect(result).toMatchObject({ rawStatus: "incomplete", killed: true, exitCode: 0 });
  });

  it("kill: SIGKILL at once; no status", async () => {
    const task = startTask({ workerCommand: fixture("sleep-forever.sh") });
    await task.lineSeen("ready");
    expect(task.handle.kill({ method: "kill", killWaitMs: 0 })).toBe(true);
    const result = await task.handle.result;
    expect(result).toMatchObject({ killed: true, signal: "SIGKILL" });
    expect(result.rawStatus).toBeUndefined();
    expect(task.handle.kill({ method: "kill", killWaitMs: 0 })).toBe(false); // nothing left to kill
  });

  it("term_wait_kill with a wait below one poll tick sends SIGTERM only (Bistro's behaviour)", async () => {
    const task = startTask({ workerCommand: fixture("ignore-term.sh") });
    await task.lineSeen("ready");
    let settled = false;
    void task.handle.result.then(() => (settled = true));
    task.handle.kill({ method: "term_wait_kill", killWaitMs: 5 }); // pollMs is 10
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(settled).toBe(false);
    task.handle.kill({ method: "kill", killWaitMs: 0 });
    expect((await task.handle.result).signal).toBe("SIGKILL");
  });

  it("a kill before the process is spawned cancels the start", async () => {
    const task = startTask({ workerCommand: fixture("sleep-forever.sh") });
    expect(task.handle.kill({ method: "term", killWaitMs: 0 })).toBe(true);
    const result = await task.handle.result;
    expect(result).toMatchObject({ killed: true, pid: null, exitCode: null });
    expect(task.lines).toEqual([]);
  });

  it.each([
    [true, true],
    [false, false],
  ])(
    "useCanaryPipe=%s: a descendant that closed every other pipe keeps the task running: %s",
    async (useCanaryPipe, waited) => {
      const jobName = `canary-${String(useCanaryPipe)}`;
      const task = startTask({
        jobName,
        workerCommand: fixture("canary-holder.sh"),
        subprocess: { pollMs: 10, maxLogLinesPerPollInterval: 0, useCanaryPipe },
      });
      const result = await task.handle.result;
      expect(result.rawStatus).toBe("done");
      const [child] = task.childPids();
      expect(isRunning(child!)).toBe(false); // waited for, or killed by the cleanup
      expect(existsSync(join(dataDir, "jobs", jobName, "canary-child-finished"))).toBe(waited);
    },
  );
});

describe("runTask: spawn failures", () => {
  const expectSpawnError = (result: TaskResult, pattern: RegExp) => {
    expect(result.spawnError).toMatch(pattern);
    expect(result).toMatchObject({ killed: false, pid: null, exitCode: null, signal: null });
    expect(result.rawStatus).toBeUndefined();
  };

  it("reports a missing command", async () => {
    expectSpawnError((await runScript("no-such-task.sh")).result, /ENOENT/);
  });

  it("reports a command that is not executable", async () => {
    expectSpawnError((await runScript("not-executable.sh")).result, /EACCES/);
  });

  it("reports a job name that cannot be a working directory", async () => {
    expectSpawnError((await runScript("demo_bistro_task.sh", { jobName: "../escape" })).result, /working directory/);
  });

  it("reports an empty command", async () => {
    expectSpawnError((await runScript("", { workerCommand: "" })).result, /No command/);
  });
});
