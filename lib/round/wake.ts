// Wake-ups: a round ends by asking for the next round at the moment its earliest timer falls due
// (lib/scheduler/timers.ts: a backoff ending, an orphan's kill deadline, the node set changing),
// so nothing waits for the backstop tick. The wake-up is one SQS message with DelaySeconds on the
// status queue, whose consumer (status ingestion, on AWS and in `sous local`) turns it into a poke.
// The scheduled time is remembered on the lease item, so later rounds do not schedule it again; a
// timer already past when the round ends asks for another round at once instead. The SQS sender is
// in wake-sqs.ts, so status ingestion, which only reads wake-ups, does not load the SDK's SQS package.
import { nextDueTimer, type DueTimer, type TimerInputs } from "../scheduler/timers";
import type { StoreContext } from "../store/context";
import type { NodeRefreshMark } from "../store/scheduler-state";
import { markRoundWanted, recordWake, type Lease } from "../store/lease";

/** SQS's longest DelaySeconds. A later timer gets a wake-up at this horizon, which schedules the next. */
export const MAX_WAKE_DELAY_SEC = 900;

/** The body of a wake-up message: `{"type":"wake","atMs":<ms since the epoch>}`, nothing else. */
export interface WakeMessage {
  type: "wake";
  atMs: number;
}

/** Sends a wake-up that is delivered `delaySec` from now (for the moment `atMs`). */
export type RoundWaker = (atMs: number, delaySec: number) => Promise<void>;

/**
 * True for a well-formed wake-up body. Anyone who may send to the status queue (workers) can
 * send one; all it does is ask for a round, which ending a task does anyway.
 */
export function isWakeMessage(body: string): boolean {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return false;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  const { type, atMs } = value as Record<string, unknown>;
  return keys.length === 2 && type === "wake" && typeof atMs === "number" && Number.isSafeInteger(atMs);
}

export interface WakeDeps {
  store: StoreContext;
  clock: () => number;
  /** Without one (tests, tools) only a timer already past is acted on. */
  waker?: RoundWaker;
}

export type WakeOutcome = "none" | "now" | "scheduled" | "pending";

/**
 * Acts on the round's earliest timer: "now" (already past: the round is asked for again, and
 * the running `runRounds` repeats), "scheduled" (a wake-up sent and remembered), "pending" (an
 * earlier or equal wake-up is already on its way) or "none".
 */
export async function scheduleWake(deps: WakeDeps, lease: Lease, due: DueTimer | null): Promise<WakeOutcome> {
  if (!due) return "none";
  const nowMs = deps.clock();
  const dueMs = Math.ceil(due.atSec * 1000);
  if (dueMs <= nowMs) {
    await markRoundWanted(deps.store);
    return "now";
  }
  if (!deps.waker) return "none";
  const delaySec = Math.min(MAX_WAKE_DELAY_SEC, Math.ceil((dueMs - nowMs) / 1000));
  const atMs = nowMs + delaySec * 1000;
  const pending = lease.wakeAtMs;
  if (pending !== undefined && pending > nowMs && pending <= atMs) return "pending";
  await deps.waker(atMs, delaySec);
  await recordWake(deps.store, lease, atMs);
  return "scheduled";
}

/** The round's end: finds its earliest timer and schedules the wake-up for it. */
export async function wakeForTimers(
  deps: WakeDeps,
  lease: Lease,
  inputs: Omit<TimerInputs, "nodesDueSec"> & { nowSec: number; nodes: NodeRefreshMark },
): Promise<(DueTimer & { outcome: WakeOutcome }) | undefined> {
  // Only time-based node changes (an `add_time` slot) need a wake-up; the periodic refresh can wait for a tick.
  const changeMs = inputs.nodes.error === null ? inputs.nodes.nextChangeAtMs : undefined;
  const due = nextDueTimer(
    { ...inputs, ...(changeMs === undefined ? {} : { nodesDueSec: changeMs / 1000 }) },
    inputs.nowSec,
  );
  if (!due) return undefined;
  return { ...due, outcome: await scheduleWake(deps, lease, due) };
}
