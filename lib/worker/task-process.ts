// Runs ONE task as a subprocess with Bistro's task protocol (see docs/task-protocol.md): it starts
// the task (argv, environment and working directory from ./task-launch.ts, the status pipe, its
// cgroup), reads its pipes through ./task-output.ts, signals it through ./task-kills.ts, and keeps
// the end-of-task rule. It returns the RAW status line; turning it into a Bistro status (and
// "killed without status" into incomplete_backoff) is lib/scheduler's job.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdir } from "node:fs/promises";
import type { Readable } from "node:stream";

import type { KillRequest, TaskSubprocessOptions } from "../model/config";
import { errorMessage } from "./error-text";
import { executableProblem, parentDeathPrefix } from "./parent-death";
import { killProcessGroup } from "./process-group";
import { closeQuietly, openStatusPipe, STATUS_PIPE_PATH } from "./status-pipe";
import type { TaskCgroup } from "./task-cgroups";
import { TaskKills } from "./task-kills";
import { cgroupJoinPrefix, jobWorkingDir, taskArgv, taskEnv } from "./task-launch";
import { canaryClosed, TaskOutput, type TaskOutputSink } from "./task-output";

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

/** The fd of the canary pipe: nobody writes it; any process holding it keeps the task running. */
const CANARY_FD = 4;

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
  private kills: TaskKills | undefined;
  private readonly now: () => number;
  private cgroup: TaskCgroup | undefined;

  constructor(private readonly options: RunTaskOptions) {
    this.now = options.now ?? Date.now;
  }

  kill(request: KillRequest): boolean {
    if (this.finished) return false;
    if (this.kills === undefined) {
      this.cancelledBeforeSpawn = true;
      return true;
    }
    return this.kills.kill(request);
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
    const kills = new TaskKills(child.pid, options.subprocess.pollMs);
    this.kills = kills;
    kills.armRuntimeLimit(options.maxRuntimeMs, options.timeoutKillWaitMs ?? 0);
    return this.supervise(child, child.pid, kills, pipe.readFd, exited, startedAtMs);
  }

  /** Waits for the end of the task: the main process exited AND every pipe is closed. */
  private async supervise(
    child: ChildProcess,
    pid: number,
    kills: TaskKills,
    statusReadFd: number,
    exited: Promise<[number | null, NodeJS.Signals | null]>,
    startedAtMs: number,
  ): Promise<TaskResult> {
    const { options } = this;
    const output = new TaskOutput(options.onOutput, options.subprocess, this.now);
    const [[exitCode, signal]] = await Promise.all([
      exited,
      output.forward(child.stdout, "stdout"),
      output.forward(child.stderr, "stderr"),
      output.readStatus(statusReadFd),
      canaryClosed(child.stdio[CANARY_FD] as Readable | null | undefined),
    ]);
    this.finished = true;
    kills.end();
    // Descendants that closed every pipe (e.g. `cmd >/dev/null 2>&1 3>&- &`) would outlive the task;
    // the task is over, so they go, and the result waits until they are gone. Ones that left the
    // group (setsid) are reaped with the task's cgroup, where it has one (execute).
    await killProcessGroup(pid, options.subprocess.pollMs);
    return {
      ...(output.rawStatus === undefined ? {} : { rawStatus: output.rawStatus }),
      killed: kills.killed,
      exitCode,
      signal,
      ...(output.error === undefined ? {} : { outputError: output.error }),
      ...(kills.timedOut && options.maxRuntimeMs !== undefined ? { timedOutAfterMs: options.maxRuntimeMs } : {}),
      startedAtMs,
      endedAtMs: this.now(),
      pid,
    };
  }
}
