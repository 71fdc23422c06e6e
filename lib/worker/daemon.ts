// The worker daemon (`sous worker`): registers through the control plane, reads start and kill
// orders from its inbox (its own SQS queue), runs each admitted task with Bistro's protocol
// (`runTask`), streams output lines to the log sink, reports every task end to the status queue
// (batched, retried until accepted), and exits on request or when its liveness gives up (killing
// its tasks before the scheduler may call it lost). Its parts: options (worker-options.ts), its
// dependencies and handle (worker-deps.ts), registration (registration.ts), liveness
// (liveness.ts), the inbox (inbox.ts), start admission (admission.ts), the table of running and
// settled attempts (running-tasks.ts), end messages (task-ends.ts). docs/worker.md describes the
// message flow and the safety argument.
import { parseMessage, workerMessageSchema, type KillMessage, type StartMessage } from "../dispatch/messages";
import type { KillRequest } from "../model/config";
import { admitStart } from "./admission";
import { MAX_ATTEMPT_ID_CHARS, MAX_LISTED_ATTEMPTS } from "./control-plane";
import type { EndSender } from "./end-sender";
import { errorText } from "./error-text";
import { pollInbox, type InboxMessage, type WorkerInbox } from "./inbox";
import type { Liveness } from "./liveness";
import { registerWorker } from "./registration";
import { RunningTasks, type RunningTask } from "./running-tasks";
import { endOfTask, notRunningEnd } from "./task-ends";
import { runTask, type TaskResult } from "./task-process";
import { TaskStatusLog } from "./task-statuses";
import type { TaskCgroups } from "./task-cgroups";
import { compileWorkerOptions, type CompiledWorkerOptions, type WorkerOptions } from "./worker-options";
import type { WorkerDeps, WorkerHandle } from "./worker-deps";
import type { ExitReason, WorkerEvent, WorkerExit } from "./worker-events";

export type { LogLine, LogSink } from "./log-sink";
export type { WorkerOptions } from "./worker-options";
export type { ExitReason, WorkerEvent, WorkerExit } from "./worker-events";
export type { WorkerDeps, WorkerHandle } from "./worker-deps";

/** Bistro's `parent_death_signal` default: SIGKILL. */
const DEFAULT_PARENT_DEATH_SIGNAL = 9;
export { IGNORED_SETTINGS_WARNINGS } from "./registration";
/** How long to wait for tasks that survive SIGKILL (a descendant outside the group holding a pipe). */
const STUCK_TASK_WAIT_MS = 10_000;

/** SIGTERM-to-SIGKILL wait for an attempt past its runtime limit: the job's own, else the worker's. */
export function timeoutKillWaitMs(message: StartMessage, workerKillWaitMs: number): number {
  return message.killRequest.method === "term_wait_kill" && message.killRequest.killWaitMs > 0
    ? message.killRequest.killWaitMs
    : workerKillWaitMs;
}

/** Registers the worker and starts it. Rejects if the options are invalid or registration fails. */
export async function startWorker(deps: WorkerDeps, options: WorkerOptions): Promise<WorkerHandle> {
  const compiled = compileWorkerOptions(options);
  if (deps.sqs === undefined && (deps.inbox === undefined || deps.sendBodies === undefined)) {
    throw new TypeError("startWorker needs an SQS client unless both `inbox` and `sendBodies` are given");
  }
  const daemon = new WorkerDaemon(deps, compiled);
  const queueUrl = await daemon.register();
  daemon.start();
  return {
    id: compiled.id,
    instanceId: compiled.instanceId,
    queueUrl,
    done: daemon.done,
    stop: (stopOptions) => daemon.stop(stopOptions?.graceful ?? true),
    runningAttempts: () => daemon.runningAttempts(),
  };
}

type Phase = "running" | "stopping" | "dying" | "exited";

class WorkerDaemon {
  readonly done: Promise<WorkerExit>;
  private resolveDone!: (exit: WorkerExit) => void;
  private readonly clock: () => number;
  private readonly emit: (event: WorkerEvent) => void;

  private phase: Phase = "running";
  private registeredAtMs = 0;
  private inbox!: WorkerInbox;
  private liveness!: Liveness;
  private endSender!: EndSender;
  private readonly statusLog: TaskStatusLog;
  private cgroups!: TaskCgroups;

  private readonly running = new RunningTasks();
  /** When the newest attempt list sent with a heartbeat was made (admission refuses orders it overtook). */
  private lastListMadeAtMs: number | undefined;

  private readonly receiveAbort = new AbortController();
  private receiveLoop: Promise<void> = Promise.resolve();
  private stopRequested = false;

  constructor(
    private readonly deps: WorkerDeps,
    private readonly options: CompiledWorkerOptions,
  ) {
    this.clock = deps.clock ?? Date.now;
    this.emit = (event) => {
      try {
        (deps.onEvent ?? ((e: WorkerEvent) => process.stderr.write(`${JSON.stringify(e)}\n`)))(event);
      } catch {
        // A failing event consumer must not take the worker down.
      }
    };
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.statusLog = new TaskStatusLog(
      deps.logs,
      { workerHost: options.hostname, workerId: options.id, workerInstance: options.instanceId },
      this.clock,
      (error) => {
        this.emit({ type: "log_sink_error", error });
      },
    );
  }

  async register(): Promise<string> {
    const registration = await registerWorker(this.deps, this.options, {
      clock: this.clock,
      emit: this.emit,
      listedAttempts: (sentAtMs) => this.listedAttempts(sentAtMs),
      onGiveUp: (reason, detail) => void this.die(reason, detail),
    });
    ({
      registeredAtMs: this.registeredAtMs,
      inbox: this.inbox,
      liveness: this.liveness,
      endSender: this.endSender,
      cgroups: this.cgroups,
    } = registration);
    return registration.queueUrl;
  }

  start(): void {
    this.liveness.start();
    this.receiveLoop = pollInbox(this.inbox, this.receiveAbort.signal, {
      // Messages received as the worker stops are still answered: starts are refused (notRunning).
      onMessages: (messages) => {
        for (const message of messages) this.handleMessage(message);
      },
      onReceiveError: (error) => {
        this.emit({ type: "receive_error", error });
      },
      onDeleteError: (error) => {
        this.emit({ type: "delete_error", error });
      },
    });
  }

  /** What a heartbeat says this instance holds: attempts running, and ended ones whose end is unsent. */
  private listedAttempts(sentAtMs: number): { running?: string[]; sentAtMs?: number } {
    const attempts = [...new Set([...this.running.attempts(), ...this.endSender.unsent().map((end) => end.attempt)])];
    // Too many (or too long) ids for one heartbeat: say nothing rather than something partial.
    if (attempts.length > MAX_LISTED_ATTEMPTS || attempts.some((a) => a.length > MAX_ATTEMPT_ID_CHARS)) return {};
    this.lastListMadeAtMs = Math.max(this.lastListMadeAtMs ?? sentAtMs, sentAtMs);
    return { running: attempts, sentAtMs };
  }

  runningAttempts(): string[] {
    return this.running.attempts();
  }

  stop(graceful: boolean): Promise<WorkerExit> {
    if (this.phase === "exited") return this.done;
    if (this.stopRequested || this.phase === "dying") {
      // A second signal: no more waiting.
      this.killAll({ method: "kill", killWaitMs: 0 }, "second stop request");
      return this.done;
    }
    this.stopRequested = true;
    void this.shutdown(graceful);
    return this.done;
  }

  // ---- giving up and shutting down ----

  /** Kills every task (SIGTERM, SIGKILL after the kill wait), then exits. Final. */
  private async die(reason: "silence" | "rejected", detail: string): Promise<void> {
    if (this.phase === "dying" || this.phase === "exited") return;
    this.phase = "dying";
    this.emit({ type: "suicide", atMs: this.clock(), reason, detail, lastAckSentAtMs: this.liveness.lastAckSentAtMs });
    this.liveness.stop();
    this.receiveAbort.abort();
    for (const task of this.running.tasks()) {
      this.statusLog.write(task.message, { event: "lost", reason: `worker gave up (${reason}): ${detail}` });
    }
    const { killWaitMs } = this.options;
    await this.killAndWait(() => ({ method: "term_wait_kill", killWaitMs }), killWaitMs, `worker ${reason}`);
    this.emit({ type: "tasks_killed", atMs: this.clock(), stillRunning: this.runningAttempts() });
    await this.finish(reason, detail);
  }

  private async shutdown(graceful: boolean): Promise<void> {
    this.phase = "stopping";
    this.emit({ type: "stopping", atMs: this.clock(), graceful, running: this.running.size });
    this.receiveAbort.abort();
    if (graceful) await this.running.waitAll(this.options.shutdownWaitMs);
    if (!this.stillStopping()) return; // the worker died meanwhile; `die` finishes
    // Each task is killed its job's way; one that ignores it is SIGKILLed after the kill wait.
    for (const task of this.running.tasks()) {
      this.statusLog.write(task.message, {
        event: "killed",
        request: task.message.killRequest,
        reason: "the worker is shutting down",
      });
    }
    await this.killAndWait((task) => task.message.killRequest, this.options.killWaitMs, "shutdown");
    if (!this.stillStopping()) return;
    await this.finish("stopped", graceful ? "graceful stop" : "stop");
  }

  /** Read through a call: the phase changes while `shutdown` awaits. */
  private stillStopping(): boolean {
    return this.phase === "stopping";
  }

  /** Kills every running task with `requestFor`, waits `waitMs`, SIGKILLs what is left, waits for it. */
  private async killAndWait(
    requestFor: (task: RunningTask) => KillRequest,
    waitMs: number,
    why: string,
  ): Promise<void> {
    if (this.running.size === 0) return;
    this.emit({ type: "kill_all", atMs: this.clock(), why, running: this.running.size });
    this.running.killEach(requestFor);
    if (await this.running.waitAll(waitMs)) return;
    this.killAll({ method: "kill", killWaitMs: 0 }, `${why}: still running after ${waitMs} ms`);
    await this.running.waitAll(STUCK_TASK_WAIT_MS);
  }

  private killAll(request: KillRequest, why: string): void {
    if (this.running.size === 0) return;
    this.emit({ type: "kill_all", atMs: this.clock(), why, running: this.running.size });
    this.running.killEach(() => request);
  }

  private async finish(reason: ExitReason, detail: string): Promise<void> {
    if (this.phase === "exited") return;
    this.phase = "exited";
    this.liveness.stop();
    this.receiveAbort.abort();
    await this.receiveLoop;
    await this.endSender.drain(this.options.endsDrainTimeoutMs);
    this.endSender.stop();
    const unsentEnds = this.endSender.unsent();
    try {
      await this.deps.logs.flush();
      await this.deps.logs.close();
    } catch (error) {
      this.emit({ type: "log_sink_error", error: errorText(error) });
    }
    const exit: WorkerExit = { reason, detail, atMs: this.clock(), unsentEnds };
    this.emit({ type: "exit", ...exit });
    this.resolveDone(exit);
  }

  // ---- orders ----

  private handleMessage(message: InboxMessage): void {
    const parsed = parseMessage(workerMessageSchema, message.body);
    if (!parsed.ok) {
      this.emit({ type: "malformed_message", messageId: message.id, error: parsed.error });
      return;
    }
    if (parsed.value.type === "start") this.handleStart(parsed.value, message.sentAtMs);
    else this.handleKill(parsed.value);
  }

  private handleStart(message: StartMessage, sentAtMs: number | undefined): void {
    const { job, node, attempt } = message;
    const admission = admitStart(message, sentAtMs, {
      accepting: this.phase === "running",
      instanceId: this.options.instanceId,
      registeredAtMs: this.registeredAtMs,
      knownAttempts: { has: (a) => this.running.knows(a) },
      runningAttemptOf: (j, n) => this.running.attemptOf(j, n),
      lastListMadeAtMs: this.lastListMadeAtMs,
    });
    switch (admission.decision) {
      case "ignore":
        this.emit({ type: "start_ignored", job, node, attempt, reason: admission.reason });
        return;
      case "refuse":
        this.running.refused(attempt);
        this.endSender.add(notRunningEnd(message, this.options.id, this.clock()));
        this.statusLog.write(message, { event: "refused", reason: admission.reason });
        this.emit({ type: "start_refused", job, node, attempt, reason: admission.reason });
        return;
      case "run":
        this.startTask(message);
    }
  }

  private startTask(message: StartMessage): void {
    const { job, node, attempt } = message;
    const { options } = this;
    const logs = this.deps.logs;
    const tokened = { job, node, attempt, token: message.token };
    const handle = runTask({
      jobName: job,
      nodeName: node,
      jobJson: JSON.stringify(message.taskJson),
      jobCommand: message.command,
      workerCommand: options.command,
      attempt,
      workerId: options.id,
      dataDir: options.dataDir,
      subprocess: {
        pollMs: message.pollMs,
        maxLogLinesPerPollInterval: message.maxLogLinesPerPollInterval,
        useCanaryPipe: message.useCanaryPipe ?? true,
        parentDeathSignal: message.parentDeathSignal ?? DEFAULT_PARENT_DEATH_SIGNAL,
      },
      onOutput: (stream, lines, timeMs) => logs.appendLines(tokened, stream, lines, timeMs),
      ...(message.cgroup === undefined ? {} : { cgroup: () => this.cgroups.create(attempt, message.cgroup ?? {}) }),
      ...(message.maxRuntimeMs === undefined
        ? {}
        : { maxRuntimeMs: message.maxRuntimeMs, timeoutKillWaitMs: timeoutKillWaitMs(message, options.killWaitMs) }),
      now: this.clock,
      ...(options.baseEnv ? { baseEnv: options.baseEnv } : {}),
    });
    const ended = handle.result.then((result) => {
      this.taskEnded(message, result);
    });
    this.running.add({ message, handle, ended });
    this.statusLog.write(message, {
      event: "running",
      command: message.command.length > 0 ? message.command : [options.command],
    });
    this.emit({ type: "task_started", atMs: this.clock(), job, node, attempt });
  }

  private taskEnded(message: StartMessage, result: TaskResult): void {
    const { job, node, attempt } = message;
    this.running.ended(message);
    this.statusLog.ended(message, result);
    try {
      this.deps.logs.endTask?.({ job, node, attempt });
    } catch (error) {
      this.emit({ type: "log_sink_error", error: errorText(error) });
    }
    const end = endOfTask(message, result, this.options.id);
    this.endSender.add(end);
    this.emit({
      type: "task_ended",
      end,
      ...(result.outputError === undefined ? {} : { outputError: result.outputError }),
    });
  }

  private handleKill(message: KillMessage): void {
    const { job, node, attempt, request, reason } = message;
    const task = this.running.get(attempt);
    this.emit({ type: "kill", job, node, attempt, request, reason, running: task !== undefined });
    if (task) {
      this.statusLog.write(message, { event: "killed", request, reason });
      task.handle.kill(request); // its end reports how it went
      return;
    }
    // An attempt that ended here already has (or will have) its real end sent: a notRunning end
    // beside it could be applied first and the real status lost.
    if (this.running.settledHere(attempt)) return;
    // Never seen: not running here. Remember it, so a start arriving after this kill (SQS does not
    // keep order) is not run for an attempt the scheduler has cleared.
    this.running.refused(attempt);
    this.endSender.add(notRunningEnd(message, this.options.id, this.clock()));
  }
}
