// The worker's table of attempts: those running here (with their process handles), the one each
// task runs, and a bounded memory of attempts that ended or were refused here, so that a late
// duplicate start, or a kill arriving before its start, is recognised. Waiting for the running
// ones to end lives here too; the daemon decides when and how to kill them.
import type { StartMessage } from "../dispatch/messages";
import type { KillRequest } from "../model/config";
import { taskId } from "../model/task";
import type { TaskHandle } from "./task-process";

export interface RunningTask {
  message: StartMessage;
  handle: TaskHandle;
  /** Resolves once the task ended and its end is queued. */
  ended: Promise<void>;
}

/** Finished and refused attempts remembered by default (oldest forgotten first). */
export const REMEMBERED_ATTEMPTS = 100_000;

export class RunningTasks {
  private readonly running = new Map<string, RunningTask>();
  private readonly attemptOfTask = new Map<string, string>();
  /** Attempts that ended or were refused here, oldest first. */
  private readonly settled = new Map<string, "ended" | "refused">();

  constructor(private readonly remembered = REMEMBERED_ATTEMPTS) {}

  get size(): number {
    return this.running.size;
  }

  attempts(): string[] {
    return [...this.running.keys()];
  }

  tasks(): IterableIterator<RunningTask> {
    return this.running.values();
  }

  get(attempt: string): RunningTask | undefined {
    return this.running.get(attempt);
  }

  /** The attempt running here for a task, if any. */
  attemptOf(job: string, node: string): string | undefined {
    return this.attemptOfTask.get(taskId(job, node));
  }

  /** Running here now, or ended or refused here before (as far as memory goes). */
  knows(attempt: string): boolean {
    return this.running.has(attempt) || this.settled.has(attempt);
  }

  /** Ended or refused here (a kill for it needs no answer of its own). */
  settledHere(attempt: string): boolean {
    return this.settled.has(attempt);
  }

  add(task: RunningTask): void {
    const { job, node, attempt } = task.message;
    this.running.set(attempt, task);
    this.attemptOfTask.set(taskId(job, node), attempt);
  }

  /** The attempt's process ended: it is no longer running, and is remembered as ended. */
  ended(message: Pick<StartMessage, "job" | "node" | "attempt">): void {
    const { job, node, attempt } = message;
    this.running.delete(attempt);
    const id = taskId(job, node);
    // A newer attempt of the same task may have started here meanwhile; its entry stays.
    if (this.attemptOfTask.get(id) === attempt) this.attemptOfTask.delete(id);
    this.remember(attempt, "ended");
  }

  /** The attempt will not run here: a later start for it is a duplicate. */
  refused(attempt: string): void {
    this.remember(attempt, "refused");
  }

  /** Sends each running task a kill (its end reports how it went). */
  killEach(requestFor: (task: RunningTask) => KillRequest): void {
    for (const task of this.running.values()) task.handle.kill(requestFor(task));
  }

  /** True if every task running now ended within `timeoutMs` and none runs. */
  async waitAll(timeoutMs: number): Promise<boolean> {
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

  private remember(attempt: string, how: "ended" | "refused"): void {
    this.settled.set(attempt, how);
    if (this.settled.size > this.remembered) {
      const oldest = this.settled.keys().next();
      if (!oldest.done) this.settled.delete(oldest.value);
    }
  }
}
