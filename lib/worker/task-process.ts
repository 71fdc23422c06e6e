// Runs ONE task as a subprocess with Bistro's task protocol (see
// docs/task-protocol.md): argv, working directory, environment, the status pipe, line-by-line
// stdout/stderr with backpressure and the line quota, kills, and the end-of-task rule. It returns the
// RAW status line; turning it into a Bistro status (and "killed without status" into
// incomplete_backoff) is lib/scheduler's job.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { finished } from "node:stream/promises";

import type { KillRequest, TaskSubprocessOptions } from "../model/config";
import type { LineSlices } from "../logs/segment-rows";
import { forEachLines, LineQuota, oneLine } from "./output-lines";
import { executableProblem, parentDeathPrefix } from "./parent-death";
import { killProcessGroup, signalProcessGroup } from "./process-group";
import { closeQuietly, openStatusPipe, readStatusPipe, STATUS_PIPE_PATH } from "./status-pipe";
import type { TaskCgroup } from "./task-cgroups";

export type OutputStreamName = "stdout" | "stderr";

/**
 * Receives the lines of one read of a pipe, as bytes, each without its "\n" (a line over 65000
 * bytes comes as several), read at `timeMs` (`now()`). While its promise is pending, that pipe is
 * not read (backpressure); none: go on.
 */
export type TaskOutputSink = (stream: OutputStreamName, lines: LineSlices, timeMs: number) => void | Promise<void>;

export interface RunTaskOptions {
  jobName: string;
  nodeName: string;
  /** argv[3], passed as given: the job JSON (`id`, `path_to_node`, `config`, `prev_status`, ...). */
  jobJson: string;
  /** The job's `command`; empty means the worker's command. */
  jobCommand: readonly string[];
  /** The worker's `--command PATH`. */
  workerCommand: string;
  /** Unique id of this start of the task (the dispatch attempt). */
  attempt: string;
  workerId: string;
  /** The worker's `--data-dir`; the task runs in `<dataDir>/jobs/<jobName>`. */
  dataDir: string;
  /** The job's `task_subprocess` settings that apply here (cgroups come through `cgroup`). */
  subprocess: Pick<TaskSubprocessOptions, "pollMs" | "maxLogLinesPerPollInterval" | "useCanaryPipe"> &
    Partial<Pick<TaskSubprocessOptions, "parentDeathSignal">>;
  onOutput: TaskOutputSink;
  /**
   * The job's maximum runtime: past it the task gets SIGTERM, then SIGKILL after `timeoutKillWaitMs`
   * (at once when that is 0), and its result says `timedOutAfterMs`.
   */
  maxRuntimeMs?: number;
  timeoutKillWaitMs?: number;
  /**
   * Makes the task's own cgroup (lib/worker/task-cgroups.ts), or undefined for none. The task joins
   * it before it execs; the task ends only once the cgroup is empty and removed.
   */
  cgroup?: () => Promise<TaskCgroup | undefined>;
  /** The environment the task inherits, before the SOUS_* variables; default `process.env`. */
  baseEnv?: NodeJS.ProcessEnv;
  /** Clock for timestamps; default `Date.now`. */
  now?: () => number;
}

export interface TaskResult {
  /** The last non-empty line written to the status pipe, "\n" stripped, nothing else trimmed. */
  rawStatus?: string;
  /** A kill signal was delivered to the task (no status then means incomplete_backoff). */
  killed: boolean;
  /** For logging only: the exit code never decides the status. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The task could not be started (no status then means error_backoff "Failed to start task ..."). */
  spawnError?: string;
  /** Set when the task ran past `maxRuntimeMs` and was killed for it. */
  timedOutAfterMs?: number;
  /** Reading a pipe or the output sink failed; the pipes were still drained to the end. */
  outputError?: string;
  startedAtMs: number;
  endedAtMs: number;
  /** The task's main process, which leads its own process group; null if it never started. */
  pid: number | null;
}

export interface TaskHandle {
  /** Settles when the task has ended (never rejects). */
  readonly result: Promise<TaskResult>;
  /** The main process id once spawned, else null. */
  readonly pid: number | null;
  /**
   * Signals the task's whole process group. Returns false if there is nothing left to signal (the
   * task ended). A kill before the process is spawned cancels the start: the result is `killed`.
   */
  kill(request: KillRequest): boolean;
}

/**
 * The argv prefix that moves the task into its cgroup before it runs any of its own code, so even
 * what it forks at once is inside. A failure is said on the task's stderr (it then has no status).
 */
export function cgroupJoinPrefix(procsFile: string): string[] {
  const script =
    'echo $$ 2>/dev/null >"$0" || { echo "sous: cannot move the task into its cgroup ($0)" >&2; exit 125; }; exec "$@"';
  return ["/bin/sh", "-c", script, procsFile];
}

/** The fd of the canary pipe: nobody writes it; any process holding it keeps the task running. */
const CANARY_FD = 4;

/** argv exactly as Bistro builds it: the command, then node, status pipe path, job JSON. No shell. */
export function taskArgv(
  jobCommand: readonly string[],
  workerCommand: string,
  nodeName: string,
  statusPipePath: string,
  jobJson: string,
): string[] {
  const command = jobCommand.length > 0 ? jobCommand : [workerCommand];
  return [...command, nodeName, statusPipePath, jobJson];
}

/**
 * The worker's AWS credentials, which tasks do not inherit (docs/security.md): static keys, the
 * ECS container-credentials endpoint and web-identity settings. Region and endpoints stay.
 */
export const WORKER_CREDENTIAL_VARIABLES: readonly string[] = [
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_SECURITY_TOKEN",
  "AWS_CREDENTIAL_EXPIRATION",
  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
  "AWS_CONTAINER_CREDENTIALS_FULL_URI",
  "AWS_CONTAINER_AUTHORIZATION_TOKEN",
  "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
  "AWS_WEB_IDENTITY_TOKEN_FILE",
  "AWS_ROLE_ARN",
  "AWS_ROLE_SESSION_NAME",
];

/** Environment variables Sous adds to the worker's own, less its credentials (docs/task-protocol.md). */
export function taskEnv(
  base: NodeJS.ProcessEnv,
  task: Pick<RunTaskOptions, "jobName" | "nodeName" | "attempt" | "workerId">,
): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(
    Object.entries(base).filter(([name]) => !WORKER_CREDENTIAL_VARIABLES.includes(name)),
  );
  return {
    ...inherited,
    SOUS_JOB: task.jobName,
    SOUS_NODE: task.nodeName,
    SOUS_ATTEMPT: task.attempt,
    SOUS_WORKER_ID: task.workerId,
  };
}

/**
 * `<dataDir>/jobs/<jobName>`, as in Bistro (a "/" in a job name nests directories). A name that could
 * leave `<dataDir>/jobs` is refused.
 */
export function jobWorkingDir(dataDir: string, jobName: string): string {
  if (jobName === "" || jobName.includes("\0") || jobName.split("/").some((part) => part === "..")) {
    throw new Error(`Job name ${JSON.stringify(jobName)} cannot be used as a working directory`);
  }
  return join(dataDir, "jobs", jobName);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Starts the task and returns at once; see `TaskHandle`. */
export function runTask(options: RunTaskOptions): TaskHandle {
  const run = new TaskRun(options);
  const result = run.execute();
  return {
    result,
    get pid() {
      return run.pid;
    },
    kill: (request) => run.kill(request),
  };
}

class TaskRun {
  pid: number | null = null;
  private finished = false;
  private cancelledBeforeSpawn = false;

  /** Read through a method: a kill can land during any await of the start-up. */
  private killedWhileStarting(): boolean {
    return this.cancelledBeforeSpawn;
  }
  private killed = false;
  private sigkillTimer: NodeJS.Timeout | undefined;
  private sigkillDueMs = Infinity;
  private runtimeTimer: NodeJS.Timeout | undefined;
  private timedOut = false;
  private readonly now: () => number;
  private cgroup: TaskCgroup | undefined;

  constructor(private readonly options: RunTaskOptions) {
    this.now = options.now ?? Date.now;
  }

  kill(request: KillRequest): boolean {
    if (this.finished) return false;
    if (this.pid === null) {
      this.cancelledBeforeSpawn = true;
      return true;
    }
    switch (request.method) {
      case "kill":
        this.clearSigkillTimer(); // SIGKILL now beats any scheduled one
        return this.signalGroup("SIGKILL");
      case "term":
        return this.signalGroup("SIGTERM");
      case "term_wait_kill": {
        const delivered = this.signalGroup("SIGTERM");
        // As Bistro implements it: a wait shorter than one poll tick (including <= 0) sends no SIGKILL.
        if (request.killWaitMs >= Math.max(1, this.options.subprocess.pollMs)) {
          this.scheduleSigkill(request.killWaitMs);
        }
        return delivered;
      }
    }
  }

  /** Of several pending term_wait_kill requests, the earliest SIGKILL wins (as in Bistro). */
  private scheduleSigkill(waitMs: number): void {
    const dueMs = performance.now() + waitMs;
    if (dueMs >= this.sigkillDueMs) return;
    this.clearSigkillTimer();
    this.sigkillDueMs = dueMs;
    this.sigkillTimer = setTimeout(() => {
      this.sigkillTimer = undefined;
      this.sigkillDueMs = Infinity;
      if (!this.finished) this.signalGroup("SIGKILL");
    }, waitMs);
  }

  private armRuntimeLimit(): void {
    const { maxRuntimeMs, timeoutKillWaitMs = 0 } = this.options;
    if (maxRuntimeMs === undefined) return;
    this.runtimeTimer = setTimeout(() => {
      this.runtimeTimer = undefined;
      if (this.finished) return;
      this.timedOut = true;
      this.kill(
        timeoutKillWaitMs > 0
          ? { method: "term_wait_kill", killWaitMs: timeoutKillWaitMs }
          : { method: "kill", killWaitMs: 0 },
      );
    }, maxRuntimeMs);
  }

  private clearSigkillTimer(): void {
    if (this.sigkillTimer !== undefined) clearTimeout(this.sigkillTimer);
    this.sigkillTimer = undefined;
    this.sigkillDueMs = Infinity;
  }

  /**
   * The task leads its own process group (spawned detached), so `-pid` reaches its descendants too,
   * including after the main process exited while descendants still hold its pipes.
   */
  private signalGroup(signal: NodeJS.Signals): boolean {
    if (this.pid === null) return false;
    if (!signalProcessGroup(this.pid, signal)) return false;
    this.killed = true;
    return true;
  }

  async execute(): Promise<TaskResult> {
    const result = await this.startAndSupervise();
    if (this.cgroup === undefined) return result;
    try {
      await this.cgroup.remove(this.options.subprocess.pollMs);
    } catch (error) {
      result.outputError ??= `Removing the task's cgroup failed: ${errorMessage(error)}`;
    }
    return { ...result, endedAtMs: this.now() };
  }

  private async startAndSupervise(): Promise<TaskResult> {
    const startedAtMs = this.now();
    const notStarted = (spawnError: string | undefined): TaskResult => {
      this.finished = true;
      return {
        killed: spawnError === undefined, // only a kill before spawning gets here without an error
        exitCode: null,
        signal: null,
        ...(spawnError === undefined ? {} : { spawnError }),
        startedAtMs,
        endedAtMs: this.now(),
        pid: null,
      };
    };
    const { options } = this;
    const argv = taskArgv(
      options.jobCommand,
      options.workerCommand,
      options.nodeName,
      STATUS_PIPE_PATH,
      options.jobJson,
    );
    const [file, ...args] = argv;
    if (file === undefined || file === "") return notStarted("No command: the job has none and the worker has none");

    let cwd: string;
    try {
      cwd = jobWorkingDir(options.dataDir, options.jobName);
      await mkdir(cwd, { recursive: true });
    } catch (error) {
      return notStarted(`Failed to make working directory: ${errorMessage(error)}`);
    }

    try {
      this.cgroup = await options.cgroup?.();
    } catch (error) {
      return notStarted(`Failed to make the task's cgroup: ${errorMessage(error)}`);
    }

    let pipe: Awaited<ReturnType<typeof openStatusPipe>>;
    try {
      pipe = await openStatusPipe();
    } catch (error) {
      return notStarted(`Failed to make the status pipe: ${errorMessage(error)}`);
    }
    if (this.cancelledBeforeSpawn) {
      closeQuietly(pipe.readFd);
      closeQuietly(pipe.writeFd);
      return notStarted(undefined);
    }

    const env = taskEnv(options.baseEnv ?? process.env, options);
    const wrapper = [
      ...(this.cgroup ? cgroupJoinPrefix(this.cgroup.procsFile) : []),
      ...parentDeathPrefix(options.subprocess.parentDeathSignal ?? 0),
    ];
    if (wrapper.length > 0) {
      const problem = await executableProblem(file, cwd, env.PATH);
      if (problem !== undefined) {
        closeQuietly(pipe.readFd);
        closeQuietly(pipe.writeFd);
        return notStarted(problem);
      }
    }
    const [program = file, ...programArgs] = [...wrapper, file, ...args];
    if (this.killedWhileStarting()) {
      // A kill arrived while the executable was being checked.
      closeQuietly(pipe.readFd);
      closeQuietly(pipe.writeFd);
      return notStarted(undefined);
    }

    let child: ChildProcess;
    try {
      child = spawn(program, programArgs, {
        cwd,
        env,
        // Its own session and process group, always (Bistro's `process_group_leader` defaults to
        // false): kills and the final cleanup reach every descendant, so children cannot leak.
        detached: true,
        // stdin is /dev/null: a daemon's stdin means nothing to a task. fd 3 is the status pipe.
        stdio: ["ignore", "pipe", "pipe", pipe.writeFd, ...(options.subprocess.useCanaryPipe ? ["pipe" as const] : [])],
      });
    } catch (error) {
      // Synchronous failures: arguments Node refuses (e.g. a NUL byte), fd exhaustion.
      closeQuietly(pipe.readFd);
      closeQuietly(pipe.writeFd);
      return notStarted(errorMessage(error));
    }
    // Only the task (and its descendants) may hold the write end, or EOF would never come.
    closeQuietly(pipe.writeFd);
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
      child.once("exit", (code, signal) => {
        resolve([code, signal]);
      });
    });
    const spawnFailed = new Promise<Error>((resolve) => child.once("error", resolve));
    if (child.pid === undefined) {
      // ENOENT, EACCES, ENOEXEC...: Node reports them on the next tick as an "error" event.
      const error = await spawnFailed;
      for (const stream of child.stdio) stream?.destroy();
      closeQuietly(pipe.readFd);
      return notStarted(errorMessage(error));
    }
    this.pid = child.pid;
    this.armRuntimeLimit();
    return this.supervise(child, child.pid, pipe.readFd, exited, startedAtMs);
  }

  /** Waits for the end of the task: the main process exited AND every pipe is closed. */
  private async supervise(
    child: ChildProcess,
    pid: number,
    statusReadFd: number,
    exited: Promise<[number | null, NodeJS.Signals | null]>,
    startedAtMs: number,
  ): Promise<TaskResult> {
    const { options } = this;
    const quota = new LineQuota(options.subprocess.maxLogLinesPerPollInterval, options.subprocess.pollMs);
    let outputError: string | undefined;
    const noteError = (what: string, error: unknown) => {
      outputError ??= `${what}: ${errorMessage(error)}`;
    };

    const forwardLines = async (stream: Readable | null, name: OutputStreamName): Promise<void> => {
      if (stream === null) return;
      const deliver = (lines: LineSlices): void | Promise<void> => {
        try {
          const pending = options.onOutput(name, lines, this.now());
          // A sink with room answers at once: no promise per read on the fast path.
          if (pending) {
            return pending.catch((error: unknown) => {
              noteError("Output sink failed", error);
            });
          }
        } catch (error) {
          noteError("Output sink failed", error);
        }
      };
      const forward = async (lines: LineSlices): Promise<void> => {
        for (let i = 0; i < lines.bounds.length / 2; i++) {
          // After a sink failure the pipe is still drained (a full pipe would block the task), unthrottled.
          if (outputError !== undefined) return;
          await quota.take();
          await deliver(oneLine(lines, i));
        }
      };
      try {
        // Without a quota, a whole read goes to the sink at once.
        await forEachLines(stream, (lines) =>
          outputError !== undefined ? undefined : quota.enabled ? forward(lines) : deliver(lines),
        );
      } catch (error) {
        noteError(`Reading ${name} failed`, error);
        stream.destroy();
      }
    };

    // Only the last non-empty status line is kept, so a chatty status pipe costs no memory; it is
    // read without quota or backpressure (no disk I/O, as in Bistro).
    let rawStatus: string | undefined;
    const statusStream = readStatusPipe(statusReadFd);
    const readStatus = forEachLines(statusStream, ({ data, bounds }) => {
      for (let i = bounds.length - 2; i >= 0; i -= 2) {
        if ((bounds[i + 1] ?? 0) > (bounds[i] ?? 0)) {
          rawStatus = data.toString("utf8", bounds[i], bounds[i + 1]);
          return;
        }
      }
    }).catch((error: unknown) => {
      noteError("Reading the status pipe failed", error);
      statusStream.destroy();
    });

    const canary = child.stdio[CANARY_FD] as Readable | null | undefined;
    const canaryClosed = async (): Promise<void> => {
      if (canary == null) return;
      canary.resume(); // whatever a task writes there is discarded
      // Only our read side matters; the socket's write side is never used.
      await finished(canary, { writable: false }).catch(() => undefined);
    };

    const [[exitCode, signal]] = await Promise.all([
      exited,
      forwardLines(child.stdout, "stdout"),
      forwardLines(child.stderr, "stderr"),
      readStatus,
      canaryClosed(),
    ]);
    this.finished = true;
    this.clearSigkillTimer();
    clearTimeout(this.runtimeTimer);
    // Descendants that closed every pipe (e.g. `cmd >/dev/null 2>&1 3>&- &`) would outlive the task;
    // the task is over, so they go, and the result waits until they are gone. Ones that left the
    // group (setsid) are reaped with the task's cgroup, where it has one (execute).
    await killProcessGroup(pid, options.subprocess.pollMs);
    return {
      ...(rawStatus === undefined ? {} : { rawStatus }),
      killed: this.killed,
      exitCode,
      signal,
      ...(outputError === undefined ? {} : { outputError }),
      ...(this.timedOut && options.maxRuntimeMs !== undefined ? { timedOutAfterMs: options.maxRuntimeMs } : {}),
      startedAtMs,
      endedAtMs: this.now(),
      pid,
    };
  }
}
