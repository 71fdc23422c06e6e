// Task ends on their way to the status queue. Ends that arrive within a short window share one
// SendMessageBatch (several ends per message, several messages per request), and an end stays in
// memory until SQS has accepted it: failures are retried with capped backoff, never dropped.
import type { SendResult } from "../dispatch/sqs";
import type { StatusMessage, TaskEnd } from "../dispatch/messages";

/** Sends message bodies to a queue: `sendBatched` in production, a failing fake in tests. */
export type SendBodies = (queueUrl: string, bodies: readonly string[]) => Promise<SendResult>;

export interface EndSenderOptions {
  queueUrl: string;
  send: SendBodies;
  /** How long the first end waits for company before it is sent. */
  windowMs: number;
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Called after each failed attempt, with the number of ends kept for the next one. */
  onSendFailed?: (failure: { ends: number; error: string; consecutiveFailures: number }) => void;
}

/** SQS bills each 64 KiB of a message as one request, so bodies are packed up to just under that. */
export const END_BODY_BYTES = 60 * 1024;

/** Packs ends into status-message bodies of at most `END_BODY_BYTES` (an oversized end travels alone). */
export function packEnds(ends: readonly TaskEnd[]): { body: string; ends: TaskEnd[] }[] {
  const packed: { body: string; ends: TaskEnd[] }[] = [];
  let group: TaskEnd[] = [];
  let bytes = 0;
  const close = () => {
    const message: StatusMessage = { ends: group };
    packed.push({ body: JSON.stringify(message), ends: group });
    group = [];
    bytes = 0;
  };
  const overhead = Buffer.byteLength(JSON.stringify({ ends: [] }));
  for (const end of ends) {
    const size = Buffer.byteLength(JSON.stringify(end)) + 1;
    if (group.length > 0 && overhead + bytes + size > END_BODY_BYTES) close();
    group.push(end);
    bytes += size;
  }
  if (group.length > 0) close();
  return packed;
}

export class EndSender {
  private pending: TaskEnd[] = [];
  /** Ends of the send in progress: not accepted yet, so still unsent. */
  private inFlight: TaskEnd[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sending = false;
  private consecutiveFailures = 0;
  private idleWaiters: (() => void)[] = [];
  private stopped = false;

  constructor(private readonly options: EndSenderOptions) {}

  add(end: TaskEnd): void {
    this.pending.push(end);
    this.schedule(this.options.windowMs);
  }

  /** Ends not yet accepted by SQS. */
  unsent(): TaskEnd[] {
    return [...this.inFlight, ...this.pending];
  }

  /** Sends what is pending without waiting for the window (a backoff in progress is cut short too). */
  flushNow(): void {
    if (this.stopped || this.sending || this.pending.length === 0) return;
    this.clearTimer();
    void this.sendPending();
  }

  /** Resolves true once every end was accepted, false if `timeoutMs` passed first. */
  async drain(timeoutMs: number): Promise<boolean> {
    this.flushNow();
    if (this.isIdle()) return true;
    let timeout: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      new Promise<boolean>((resolve) => {
        this.idleWaiters.push(() => {
          resolve(true);
        });
      }),
      new Promise<boolean>((resolve) => {
        timeout = setTimeout(() => {
          resolve(false);
        }, timeoutMs);
      }),
    ]);
    clearTimeout(timeout);
    return drained;
  }

  /** No more sends; whatever is pending stays in `unsent()`. */
  stop(): void {
    this.stopped = true;
    this.clearTimer();
  }

  private isIdle(): boolean {
    return this.pending.length === 0 && !this.sending;
  }

  private schedule(delayMs: number): void {
    if (this.stopped || this.sending || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.sendPending();
    }, delayMs);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async sendPending(): Promise<void> {
    if (this.stopped || this.sending || this.pending.length === 0) return;
    this.sending = true;
    const taken = this.pending;
    this.pending = [];
    this.inFlight = taken;
    const packed = packEnds(taken);
    let kept: TaskEnd[] = [];
    let error: string | undefined;
    try {
      const result = await this.options.send(
        this.options.queueUrl,
        packed.map((p) => p.body),
      );
      // Bodies are unique (each carries distinct attempts), but count them to be safe.
      const failedBodies = new Map<string, number>();
      for (const failure of result.failed) {
        failedBodies.set(failure.body, (failedBodies.get(failure.body) ?? 0) + 1);
        error ??= failure.error;
      }
      for (const { body, ends } of packed) {
        const count = failedBodies.get(body) ?? 0;
        if (count === 0) continue;
        failedBodies.set(body, count - 1);
        kept.push(...ends);
      }
    } catch (thrown) {
      kept = taken;
      error = thrown instanceof Error ? thrown.message : String(thrown);
    }
    this.sending = false;
    this.inFlight = [];
    // Ends that failed go first: they are the oldest.
    this.pending = [...kept, ...this.pending];
    if (kept.length > 0) {
      this.consecutiveFailures++;
      this.options.onSendFailed?.({
        ends: kept.length,
        error: error ?? "unknown error",
        consecutiveFailures: this.consecutiveFailures,
      });
      const min = this.options.retryMinMs ?? 200;
      const max = this.options.retryMaxMs ?? 10_000;
      this.schedule(Math.min(max, min * 2 ** (this.consecutiveFailures - 1)));
      return;
    }
    this.consecutiveFailures = 0;
    if (this.pending.length > 0) {
      this.schedule(this.options.windowMs);
      return;
    }
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
