// A log writer's clock for tests (lib/logs/writer-options.ts LogClock): time moves only when the
// test advances it, and the timers it passes run then, in time order.
import type { LogClock } from "../../lib/logs/writer";

/** Timers that run only when the test advances time. */
export class FakeClock implements LogClock {
  private timers: { at: number; callback: () => void; id: number }[] = [];
  private nextId = 0;
  constructor(public nowMs: number) {}
  now(): number {
    return this.nowMs;
  }
  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.push({ at: this.nowMs + ms, callback, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }
  advance(ms: number): void {
    const target = this.nowMs + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.nowMs = Math.max(this.nowMs, due.at);
      due.callback();
    }
    this.nowMs = target;
  }
}
