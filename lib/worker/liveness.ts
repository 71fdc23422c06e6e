// The worker's liveness, carved out of the daemon's loop: it sends a heartbeat every period, keeps
// the send time of the last acknowledged one, and decides when the worker must give up — the
// control plane refused a heartbeat (replaced, declared lost), or no heartbeat was acknowledged for
// the self-deadline (lib/worker/lost-safety.ts). Giving up is reported once, through `onGiveUp`;
// killing the tasks and exiting is the daemon's business.
import type { HeartbeatAnswer } from "./control-plane";
import { errorText } from "./error-text";

export type GiveUpReason = "silence" | "rejected";

export type LivenessEvent =
  | { type: "heartbeat"; sentAtMs: number; answeredAtMs: number; ok: boolean; reason?: string }
  | { type: "heartbeat_error"; sentAtMs: number; error: string };

export interface LivenessDeps {
  /** Sends one heartbeat; throws when no answer could be had (it is then simply not acknowledged). */
  heartbeat: () => Promise<HeartbeatAnswer>;
  clock: () => number;
  emit: (event: LivenessEvent) => void;
  /** Called at most once, when the worker must kill its tasks and exit. */
  onGiveUp: (reason: GiveUpReason, detail: string) => void;
}

export interface LivenessTimes {
  heartbeatPeriodMs: number;
  /** Silence from the send time of the last acknowledged heartbeat after which the worker gives up. */
  suicideAfterMs: number;
  /** When the registration was sent: it counts as the first acknowledged heartbeat. */
  registeredAtMs: number;
}

export class Liveness {
  private active = false;
  private lastAckSentAt: number;
  private silenceTimer: NodeJS.Timeout | undefined;
  private wakeSleep: (() => void) | undefined;

  constructor(
    private readonly deps: LivenessDeps,
    private readonly times: LivenessTimes,
  ) {
    this.lastAckSentAt = times.registeredAtMs;
  }

  /** Send time of the last acknowledged heartbeat (or of the registration). */
  get lastAckSentAtMs(): number {
    return this.lastAckSentAt;
  }

  start(): void {
    if (this.active) return;
    this.active = true;
    this.armSilenceTimer();
    void this.heartbeatLoop();
  }

  /** Final: no more heartbeats, no decision. An answer still in flight is ignored. */
  stop(): void {
    this.active = false;
    if (this.silenceTimer !== undefined) clearTimeout(this.silenceTimer);
    this.silenceTimer = undefined;
    this.wakeSleep?.();
  }

  /** Read through a call: `stop` may run during any await. */
  private isActive(): boolean {
    return this.active;
  }

  private giveUp(reason: GiveUpReason, detail: string): void {
    if (!this.active) return;
    this.stop();
    this.deps.onGiveUp(reason, detail);
  }

  private async heartbeatLoop(): Promise<void> {
    const { clock, emit } = this.deps;
    const periodMs = this.times.heartbeatPeriodMs;
    let nextAtMs = this.times.registeredAtMs + periodMs;
    while (this.isActive()) {
      await this.sleep(nextAtMs - clock());
      if (!this.isActive()) return;
      const sentAtMs = clock();
      nextAtMs = sentAtMs + periodMs;
      let answer: HeartbeatAnswer;
      try {
        answer = await this.deps.heartbeat();
      } catch (error) {
        emit({ type: "heartbeat_error", sentAtMs, error: errorText(error) });
        continue;
      }
      // An answer that arrives after the worker gave up changes nothing: giving up is final.
      if (!this.isActive()) return;
      emit({
        type: "heartbeat",
        sentAtMs,
        answeredAtMs: clock(),
        ok: answer.ok,
        ...(answer.ok ? {} : { reason: answer.reason }),
      });
      if (!answer.ok) {
        this.giveUp("rejected", answer.reason);
        return;
      }
      this.lastAckSentAt = Math.max(this.lastAckSentAt, sentAtMs);
      this.armSilenceTimer();
    }
  }

  private armSilenceTimer(): void {
    if (this.silenceTimer !== undefined) clearTimeout(this.silenceTimer);
    const { clock } = this.deps;
    const { suicideAfterMs } = this.times;
    this.silenceTimer = setTimeout(
      () => {
        this.silenceTimer = undefined;
        if (!this.active) return;
        if (clock() - this.lastAckSentAt >= suicideAfterMs) {
          this.giveUp(
            "silence",
            `No heartbeat acknowledged for ${suicideAfterMs} ms since one sent at ${this.lastAckSentAt}`,
          );
        } else {
          this.armSilenceTimer(); // the timer fired early by the clock
        }
      },
      Math.max(0, this.lastAckSentAt + suicideAfterMs - clock()),
    );
  }

  /** A sleep that `stop` cuts short. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wakeSleep = undefined;
        resolve();
      };
      const timer = setTimeout(wake, Math.max(0, ms));
      this.wakeSleep = wake;
    });
  }
}
