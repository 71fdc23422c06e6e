// The worker daemon (`sous worker`): registers through the control plane, long-polls its own SQS
// queue for start and kill messages, runs each task with Bistro's protocol (`runTask`), streams
// output lines to the log sink, reports every task end to the status queue (batched, retried until
// accepted), sends heartbeats, kills its tasks and exits before the scheduler may call it lost, and
// shuts down gracefully on request. docs/worker.md describes the message flow and the safety argument.
import { taskId } from "../model/task";
import { hostname as osHostname } from "node:os";
import { randomUUID } from "node:crypto";
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from "@aws-sdk/client-sqs";

import {
  parseMessage,
  workerMessageSchema,
  type KillMessage,
  type StartMessage,
  type TaskEnd,
} from "../dispatch/messages";
import { sendBatched } from "../dispatch/sqs";
import type { KillRequest, ResourceAmounts } from "../model/config";
import type { WorkerTimings } from "../round/worker-health";
import { MAX_ATTEMPT_ID_CHARS, MAX_LISTED_ATTEMPTS, type ControlPlane } from "./control-plane";
import { EndSender, type SendBodies } from "./end-sender";
import { selfDeadlines } from "./lost-safety";
import { runTask, type OutputStreamName, type TaskHandle, type TaskResult } from "./task-process";

/** One output line of one attempt, as the log writer (lib/logs) takes it. */
export interface LogLine {
  job: string;
  node: string;
  attempt: string;
  stream: OutputStreamName;
  text: string;
  timeMs: number;
}

/** The part of the S3 log writer the daemon uses. `append` resolving late is backpressure. */
export interface LogSink {
  append(line: LogLine): Promise<void>;
  flush(): Promise<void>;
  close(): Promise<void>;
  /** Told when an attempt has ended, so per-task bookkeeping can go (the S3 writer has it). */
  endTask?(task: { job: string; node: string; attempt: string }): void;
}

export interface WorkerOptions {
  /** The worker id (Bistro's shard); one live instance per id. */
  id: string;
  /** The worker's `--command PATH`, run when a job has no command of its own. */
  command: string;
  /** Tasks run in `<dataDir>/jobs/<job>`. */
  dataDir: string;
  resources?: ResourceAmounts;
  /** Default: the machine's hostname. */
  hostname?: string;
  /** Default: a random UUID; unique per process start. */
  instanceId?: string;
  /** Default 15 (Bistro's `--heartbeat_period_sec`). */
  heartbeatPeriodSec?: number;
  /** ReceiveMessage long-poll, at most 20 s (SQS's limit). Default 20. */
  receiveWaitSec?: number;
  /** Ends that finish within this window share one SendMessageBatch. Default 100 ms. */
  endBatchWindowMs?: number;
  /** On a graceful stop, how long running tasks may take to finish before they are killed. Default 20 s. */
  shutdownWaitMs?: number;
  /**
   * SIGTERM-to-SIGKILL wait when the worker kills its tasks on its own account (lost, replaced), and
   * the longest a task may ignore its own kill request on shutdown. Default 5000 (Bistro's
   * `--CAUTION_worker_suicide_task_kill_wait_ms`).
   */
  killWaitMs?: number;
  /** At exit, how long to keep retrying unsent ends. Default 30 s. */
  endsDrainTimeoutMs?: number;
  /** Environment the tasks inherit (before SOUS_*). Default `process.env`. */
  baseEnv?: NodeJS.ProcessEnv;
}

export interface WorkerDeps {
  controlPlane: ControlPlane;
  /** Receives and deletes the worker's messages; sends ends unless `sendBodies` is given. */
  sqs: SQSClient;
  logs: LogSink;
  /** How bodies reach the status queue. Default: `sendBatched` over `sqs`. */
  sendBodies?: SendBodies;
  /** Wall-clock milliseconds. Default `Date.now`. Also compared with SQS's SentTimestamp. */
  clock?: () => number;
  /** Everything the worker decides, as structured events. Default: one JSON line each on stderr. */
  onEvent?: (event: WorkerEvent) => void;
}

export type ExitReason =
  /** `stop()` was called. */
  | "stopped"
  /** No heartbeat was acknowledged for the self-deadline: the scheduler will soon call this worker lost. */
  | "silence"
  /** The control plane answered a heartbeat with not-ok: replaced or declared lost. */
  | "rejected";

export interface WorkerExit {
  reason: ExitReason;
  detail: string;
  atMs: number;
  /** Ends SQS never accepted (the status queue was unreachable until exit); also in the exit event. */
  unsentEnds: TaskEnd[];
}

export type WorkerEvent =
  | {
      type: "registered";
      atMs: number;
      id: string;
      instanceId: string;
      queueUrl: string;
      timings: WorkerTimings;
      suicideAfterMs: number;
      mustDieAfterMs: number;
    }
  | { type: "heartbeat"; sentAtMs: number; answeredAtMs: number; ok: boolean; reason?: string }
  | { type: "heartbeat_error"; sentAtMs: number; error: string }
  | { type: "task_started"; atMs: number; job: string; node: string; attempt: string }
  | { type: "task_ended"; end: TaskEnd; outputError?: string }
  | { type: "start_ignored"; job: string; node: string; attempt: string; reason: string }
  | { type: "start_refused"; job: string; node: string; attempt: string; reason: string }
  | { type: "kill"; job: string; node: string; attempt: string; request: KillRequest; reason: string; running: boolean }
  | { type: "malformed_message"; messageId: string; error: string }
  | { type: "receive_error"; error: string }
  | { type: "delete_error"; error: string }
  | { type: "ends_send_failed"; ends: number; error: string; consecutiveFailures: number }
  | { type: "log_sink_error"; error: string }
  | { type: "stopping"; atMs: number; graceful: boolean; running: number }
  | { type: "kill_all"; atMs: number; why: string; running: number }
  | { type: "suicide"; atMs: number; reason: "silence" | "rejected"; detail: string; lastAckSentAtMs: number }
  | { type: "tasks_killed"; atMs: number; stillRunning: string[] }
  | { type: "exit"; atMs: number; reason: ExitReason; detail: string; unsentEnds: TaskEnd[] };

export interface WorkerHandle {
  readonly id: string;
  readonly instanceId: string;
  readonly queueUrl: string;
  /** Settles when the worker has exited (never rejects). */
  readonly done: Promise<WorkerExit>;
  /**
   * First call: stop receiving, then (graceful) let running tasks finish for up to `shutdownWaitMs`,
   * or kill them now per their kill request; send their ends, flush the logs, exit. A second call
   * SIGKILLs whatever still runs. Returns `done`.
   */
  stop(options?: { graceful?: boolean }): Promise<WorkerExit>;
  /** Attempts running now. */
  runningAttempts(): string[];
}

/** Bistro's `parent_death_signal` default: SIGKILL. */
const DEFAULT_PARENT_DEATH_SIGNAL = 9;

const DEFAULTS = {
  heartbeatPeriodSec: 15,
  receiveWaitSec: 20,
  endBatchWindowMs: 100,
  shutdownWaitMs: 20_000,
  killWaitMs: 5000,
  endsDrainTimeoutMs: 30_000,
};
/** Finished and refused attempts remembered, so late duplicates are recognised (oldest forgotten first). */
const REMEMBERED_ATTEMPTS = 100_000;
/** How long to wait for tasks that survive SIGKILL (a descendant outside the group holding a pipe). */
const STUCK_TASK_WAIT_MS = 10_000;

type Resolved = Required<Omit<WorkerOptions, "resources" | "hostname" | "instanceId" | "baseEnv">> &
  Pick<WorkerOptions, "baseEnv"> & { resources: ResourceAmounts; hostname: string; instanceId: string };

interface RunningTask {
  message: StartMessage;
  handle: TaskHandle;
  /** Resolves once the task ended and its end is queued. */
  ended: Promise<void>;
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Registers the worker and starts it. Rejects if registration fails (e.g. ConflictError: the id is held). */
export async function startWorker(deps: WorkerDeps, options: WorkerOptions): Promise<WorkerHandle> {
  const resolved: Resolved = {
    ...DEFAULTS,
    ...options,
    resources: options.resources ?? {},
    hostname: options.hostname ?? osHostname(),
    instanceId: options.instanceId ?? randomUUID(),
  };
  if (!(resolved.receiveWaitSec >= 0 && resolved.receiveWaitSec <= 20)) {
    throw new RangeError(`receiveWaitSec must be between 0 and 20 (got ${resolved.receiveWaitSec})`);
  }
  const daemon = new WorkerDaemon(deps, resolved);
  const queueUrl = await daemon.register();
  daemon.start();
  return {
    id: resolved.id,
    instanceId: resolved.instanceId,
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
  private queueUrl = "";
  private registeredAtMs = 0;
  private lastAckSentAtMs = 0;
  private suicideAfterMs = 0;
  private endSender!: EndSender;

  private readonly running = new Map<string, RunningTask>();
  private readonly runningByTask = new Map<string, string>();
  /** Attempts that ended or were refused here, oldest first; a start for one of them is a duplicate. */
  private readonly settled = new Map<string, "ended" | "refused">();

  private readonly receiveAbort = new AbortController();
  private receiveLoop: Promise<void> = Promise.resolve();
  private silenceTimer: NodeJS.Timeout | undefined;
  private readonly sleepers = new Set<() => void>();
  private stopRequested = false;

  constructor(
    private readonly deps: WorkerDeps,
    private readonly options: Resolved,
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
  }

  async register(): Promise<string> {
    const { options } = this;
    // Taken before the call, so it is never later than the control plane's own record of it.
    const sentAtMs = this.clock();
    const answer = await this.deps.controlPlane.register({
      id: options.id,
      hostname: options.hostname,
      instanceId: options.instanceId,
      resources: options.resources,
      heartbeatPeriodSec: options.heartbeatPeriodSec,
    });
    const deadlines = selfDeadlines(answer.timings, options.heartbeatPeriodSec, options.killWaitMs);
    this.queueUrl = answer.queueUrl;
    this.registeredAtMs = sentAtMs;
    this.lastAckSentAtMs = sentAtMs; // a registration counts as the first heartbeat
    this.suicideAfterMs = deadlines.suicideAfterMs;
    const sqs = this.deps.sqs;
    this.endSender = new EndSender({
      queueUrl: answer.statusQueueUrl,
      send: this.deps.sendBodies ?? ((url, bodies) => sendBatched(sqs, url, bodies)),
      windowMs: options.endBatchWindowMs,
      onSendFailed: (failure) => {
        this.emit({ type: "ends_send_failed", ...failure });
      },
    });
    this.emit({
      type: "registered",
      atMs: sentAtMs,
      id: options.id,
      instanceId: options.instanceId,
      queueUrl: answer.queueUrl,
      timings: answer.timings,
      ...deadlines,
    });
    return answer.queueUrl;
  }

  start(): void {
    this.armSilenceTimer();
    void this.heartbeatLoop();
    this.receiveLoop = this.receiveMessages();
  }

  runningAttempts(): string[] {
    return [...this.running.keys()];
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

  // ---- heartbeats and the self-deadline ----

  private async heartbeatLoop(): Promise<void> {
    const periodMs = this.options.heartbeatPeriodSec * 1000;
    let nextAtMs = this.registeredAtMs + periodMs;
    while (this.heartbeating()) {
      await this.sleep(nextAtMs - this.clock());
      if (!this.heartbeating()) return;
      const sentAtMs = this.clock();
      nextAtMs = sentAtMs + periodMs;
      let answer: Awaited<ReturnType<ControlPlane["heartbeat"]>>;
      try {
        answer = await this.deps.controlPlane.heartbeat({
          id: this.options.id,
          instanceId: this.options.instanceId,
          ...this.listedAttempts(sentAtMs),
        });
      } catch (error) {
        this.emit({ type: "heartbeat_error", sentAtMs, error: errorText(error) });
        continue;
      }
      // An answer that arrives after the worker gave up changes nothing: giving up is final.
      if (!this.heartbeating()) return;
      this.emit({
        type: "heartbeat",
        sentAtMs,
        answeredAtMs: this.clock(),
        ok: answer.ok,
        ...(answer.ok ? {} : { reason: answer.reason }),
      });
      if (!answer.ok) {
        void this.die("rejected", answer.reason);
        return;
      }
      this.lastAckSentAtMs = Math.max(this.lastAckSentAtMs, sentAtMs);
      this.armSilenceTimer();
    }
  }

  /** What the heartbeat says this instance holds: attempts running, and ended ones whose end is unsent. */
  private listedAttempts(sentAtMs: number): { running?: string[]; sentAtMs?: number } {
    const attempts = [...new Set([...this.running.keys(), ...this.endSender.unsent().map((end) => end.attempt)])];
    // Too many (or too long) ids for one heartbeat: say nothing rather than something partial.
    if (attempts.length > MAX_LISTED_ATTEMPTS || attempts.some((a) => a.length > MAX_ATTEMPT_ID_CHARS)) return {};
    return { running: attempts, sentAtMs };
  }

  private heartbeating(): boolean {
    return this.phase === "running" || this.phase === "stopping";
  }

  private armSilenceTimer(): void {
    if (this.silenceTimer !== undefined) clearTimeout(this.silenceTimer);
    const dueMs = this.lastAckSentAtMs + this.suicideAfterMs;
    this.silenceTimer = setTimeout(
      () => {
        this.silenceTimer = undefined;
        if (!this.heartbeating()) return;
        if (this.clock() - this.lastAckSentAtMs >= this.suicideAfterMs) {
          void this.die(
            "silence",
            `No heartbeat acknowledged for ${this.suicideAfterMs} ms since one sent at ${this.lastAckSentAtMs}`,
          );
        } else {
          this.armSilenceTimer(); // the timer fired early by the clock
        }
      },
      Math.max(0, dueMs - this.clock()),
    );
  }

  /** Kills every task (SIGTERM, SIGKILL after the kill wait), then exits. Final. */
  private async die(reason: "silence" | "rejected", detail: string): Promise<void> {
    if (this.phase === "dying" || this.phase === "exited") return;
    this.phase = "dying";
    this.emit({ type: "suicide", atMs: this.clock(), reason, detail, lastAckSentAtMs: this.lastAckSentAtMs });
    this.stopTimers();
    this.receiveAbort.abort();
    const { killWaitMs } = this.options;
    await this.killAndWait(() => ({ method: "term_wait_kill", killWaitMs }), killWaitMs, `worker ${reason}`);
    this.emit({ type: "tasks_killed", atMs: this.clock(), stillRunning: this.runningAttempts() });
    await this.finish(reason, detail);
  }

  // ---- shutdown ----

  private async shutdown(graceful: boolean): Promise<void> {
    this.phase = "stopping";
    this.emit({ type: "stopping", atMs: this.clock(), graceful, running: this.running.size });
    this.receiveAbort.abort();
    if (graceful) await this.waitForTasks(this.options.shutdownWaitMs);
    if (!this.stillStopping()) return; // the worker died meanwhile; `die` finishes
    // Each task is killed its job's way; one that ignores it is SIGKILLed after the kill wait.
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
    for (const task of this.running.values()) task.handle.kill(requestFor(task));
    if (await this.waitForTasks(waitMs)) return;
    this.killAll({ method: "kill", killWaitMs: 0 }, `${why}: still running after ${waitMs} ms`);
    await this.waitForTasks(STUCK_TASK_WAIT_MS);
  }

  private killAll(request: KillRequest, why: string): void {
    if (this.running.size === 0) return;
    this.emit({ type: "kill_all", atMs: this.clock(), why, running: this.running.size });
    for (const task of this.running.values()) task.handle.kill(request);
  }

  /** True if every running task ended within `timeoutMs`. */
  private async waitForTasks(timeoutMs: number): Promise<boolean> {
    if (this.running.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      Promise.all([...this.running.values()].map((t) => t.ended)).then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => {
          resolve(false);
        }, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    return ended && this.running.size === 0;
  }

  private async finish(reason: ExitReason, detail: string): Promise<void> {
    if (this.phase === "exited") return;
    this.phase = "exited";
    this.stopTimers();
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

  private stopTimers(): void {
    if (this.silenceTimer !== undefined) clearTimeout(this.silenceTimer);
    this.silenceTimer = undefined;
    for (const wake of this.sleepers) wake();
    this.sleepers.clear();
  }

  /** A sleep that `stopTimers` cuts short. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, Math.max(0, ms));
      this.sleepers.add(wake);
    });
  }

  // ---- messages ----

  private async receiveMessages(): Promise<void> {
    let failures = 0;
    while (this.receiving()) {
      let messages: Message[];
      try {
        const response = await this.deps.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: this.queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: this.options.receiveWaitSec,
            MessageSystemAttributeNames: ["SentTimestamp"],
          }),
          { abortSignal: this.receiveAbort.signal },
        );
        messages = response.Messages ?? [];
        failures = 0;
      } catch (error) {
        if (!this.receiving()) return;
        failures++;
        this.emit({ type: "receive_error", error: errorText(error) });
        await this.sleep(Math.min(20_000, 250 * 2 ** Math.min(failures, 7)));
        continue;
      }
      if (messages.length === 0) continue;
      // Messages received as the worker stops are still answered: starts are refused (notRunning).
      for (const message of messages) this.handleMessage(message);
      await this.deleteMessages(messages);
    }
  }

  private receiving(): boolean {
    return !this.receiveAbort.signal.aborted;
  }

  private async deleteMessages(messages: Message[]): Promise<void> {
    const entries = messages
      .filter((m) => m.ReceiptHandle !== undefined)
      .map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle }));
    if (entries.length === 0) return;
    try {
      const result = await this.deps.sqs.send(
        new DeleteMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: entries }),
      );
      for (const failure of result.Failed ?? []) {
        this.emit({ type: "delete_error", error: `${failure.Code ?? ""} ${failure.Message ?? ""}`.trim() });
      }
    } catch (error) {
      // The messages come back after the visibility timeout and are recognised as duplicates then.
      this.emit({ type: "delete_error", error: errorText(error) });
    }
  }

  private handleMessage(message: Message): void {
    const parsed = parseMessage(workerMessageSchema, message.Body ?? "");
    if (!parsed.ok) {
      this.emit({ type: "malformed_message", messageId: message.MessageId ?? "", error: parsed.error });
      return;
    }
    const sentAt = Number(message.Attributes?.SentTimestamp);
    if (parsed.value.type === "start") this.handleStart(parsed.value, Number.isFinite(sentAt) ? sentAt : undefined);
    else this.handleKill(parsed.value);
  }

  private handleStart(message: StartMessage, sentAtMs: number | undefined): void {
    const { job, node, attempt } = message;
    if (this.running.has(attempt) || this.settled.has(attempt)) {
      this.emit({
        type: "start_ignored",
        job,
        node,
        attempt,
        reason: "duplicate: this attempt ran or was refused here",
      });
      return;
    }
    const other = this.runningByTask.get(taskId(job, node));
    const refusal =
      this.phase !== "running"
        ? "the worker is shutting down"
        : message.workerInstance !== undefined && message.workerInstance !== this.options.instanceId
          ? `meant for instance ${message.workerInstance} of this worker, not this one`
          : message.workerInstance === undefined && sentAtMs !== undefined && sentAtMs < this.registeredAtMs
            ? "sent before this worker instance registered (meant for a previous instance)"
            : other !== undefined
              ? `attempt ${other} of the same task is running here`
              : undefined;
    if (refusal !== undefined) {
      this.settle(attempt, "refused");
      this.endSender.add(this.notRunningEnd(message));
      this.emit({ type: "start_refused", job, node, attempt, reason: refusal });
      return;
    }
    this.startTask(message);
  }

  private startTask(message: StartMessage): void {
    const { job, node, attempt } = message;
    const { options } = this;
    const logs = this.deps.logs;
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
        // Not carried by start messages; Bistro's default.
        useCanaryPipe: true,
        parentDeathSignal: message.parentDeathSignal ?? DEFAULT_PARENT_DEATH_SIGNAL,
      },
      onOutputLine: (line) => logs.append({ job, node, attempt, ...line }),
      now: this.clock,
      ...(options.baseEnv ? { baseEnv: options.baseEnv } : {}),
    });
    const ended = handle.result.then((result) => {
      this.taskEnded(message, result);
    });
    this.running.set(attempt, { message, handle, ended });
    this.runningByTask.set(taskId(job, node), attempt);
    this.emit({ type: "task_started", atMs: this.clock(), job, node, attempt });
  }

  private taskEnded(message: StartMessage, result: TaskResult): void {
    const { job, node, attempt } = message;
    this.running.delete(attempt);
    if (this.runningByTask.get(taskId(job, node)) === attempt) this.runningByTask.delete(taskId(job, node));
    this.settle(attempt, "ended");
    try {
      this.deps.logs.endTask?.({ job, node, attempt });
    } catch (error) {
      this.emit({ type: "log_sink_error", error: errorText(error) });
    }
    const end: TaskEnd = {
      job,
      node,
      attempt,
      worker: this.options.id,
      ...(result.rawStatus === undefined ? {} : { rawStatus: result.rawStatus }),
      killed: result.killed,
      ...(result.spawnError === undefined ? {} : { spawnError: result.spawnError }),
      exitCode: result.exitCode,
      signal: result.signal,
      endedAtMs: result.endedAtMs,
    };
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
      task.handle.kill(request); // its end reports how it went
      return;
    }
    // An attempt that ended here already has (or will have) its real end sent: a notRunning end
    // beside it could be applied first and the real status lost.
    if (this.settled.has(attempt)) return;
    // Never seen: not running here. Remember it, so a start arriving after this kill (SQS does not
    // keep order) is not run for an attempt the scheduler has cleared.
    this.settle(attempt, "refused");
    this.endSender.add(this.notRunningEnd(message));
  }

  private notRunningEnd(message: { job: string; node: string; attempt: string }): TaskEnd {
    return {
      job: message.job,
      node: message.node,
      attempt: message.attempt,
      worker: this.options.id,
      killed: false,
      notRunning: true,
      exitCode: null,
      signal: null,
      endedAtMs: this.clock(),
    };
  }

  private settle(attempt: string, how: "ended" | "refused"): void {
    this.settled.set(attempt, how);
    if (this.settled.size > REMEMBERED_ATTEMPTS) {
      const oldest = this.settled.keys().next();
      if (!oldest.done) this.settled.delete(oldest.value);
    }
  }
}
