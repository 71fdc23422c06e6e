// Signals to a started task's process group: kill requests carried out as Bistro does (term, kill,
// term_wait_kill, where the earliest pending SIGKILL wins) and the job's maximum runtime.

import type { KillRequest } from "../model/config";
import { signalProcessGroup } from "./process-group";

export class TaskKills {
  /** A signal was delivered to the task (no status then means incomplete_backoff). */
  killed = false;
  /** The task ran past its maximum runtime and was killed for it. */
  timedOut = false;
  private ended = false;
  private sigkillTimer: NodeJS.Timeout | undefined;
  private sigkillDueMs = Infinity;
  private runtimeTimer: NodeJS.Timeout | undefined;

  /**
   * @param pid the task's main process, which leads its own process group
   * @param pollMs the job's poll period: a term_wait_kill wait shorter than it sends no SIGKILL
   */
  constructor(
    private readonly pid: number,
    private readonly pollMs: number,
  ) {}

  /** Returns false if there is nothing left to signal (the task ended). */
  kill(request: KillRequest): boolean {
    if (this.ended) return false;
    switch (request.method) {
      case "kill":
        this.clearSigkillTimer(); // SIGKILL now beats any scheduled one
        return this.signalGroup("SIGKILL");
      case "term":
        return this.signalGroup("SIGTERM");
      case "term_wait_kill": {
        const delivered = this.signalGroup("SIGTERM");
        // As Bistro implements it: a wait shorter than one poll tick (including <= 0) sends no SIGKILL.
        if (request.killWaitMs >= Math.max(1, this.pollMs)) this.scheduleSigkill(request.killWaitMs);
        return delivered;
      }
    }
  }

  /** Past `maxRuntimeMs` the task gets SIGTERM, then SIGKILL after `killWaitMs` (at once when 0). */
  armRuntimeLimit(maxRuntimeMs: number | undefined, killWaitMs: number): void {
    if (maxRuntimeMs === undefined) return;
    this.runtimeTimer = setTimeout(() => {
      this.runtimeTimer = undefined;
      if (this.ended) return;
      this.timedOut = true;
      this.kill(killWaitMs > 0 ? { method: "term_wait_kill", killWaitMs } : { method: "kill", killWaitMs: 0 });
    }, maxRuntimeMs);
  }

  /** The task is over: nothing more is signalled and the timers go. */
  end(): void {
    this.ended = true;
    this.clearSigkillTimer();
    clearTimeout(this.runtimeTimer);
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
      if (!this.ended) this.signalGroup("SIGKILL");
    }, waitMs);
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
    if (!signalProcessGroup(this.pid, signal)) return false;
    this.killed = true;
    return true;
  }
}
