// Timers: the earliest moment after a round at which the plan would change by itself, with no
// status arriving and no config edit: a backoff running out, an orphan's kill deadline, or the
// node set changing (a periodic refresh, an `add_time` slot opening or closing). The round
// schedules one wake-up for that moment (lib/round/wake.ts), so nothing waits for a backstop tick.
// Pure: `nowSec` is the round's clock.
import { jobCanRun, type Config } from "../model/config";
import { isInBackoff } from "../model/status";
import type { OrphanTimer, TaskRecord } from "./snapshot";

export interface TimerInputs {
  config: Config;
  /** The round's task records (after fail-over). */
  tasks: readonly TaskRecord[];
  /** The orphan timers the plan carries to the next round. */
  orphanTimers: readonly OrphanTimer[];
  /** When the next nodes refresh is due (Unix seconds), if one is scheduled. */
  nodesDueSec?: number;
}

/** What falls due first, and when (Unix seconds, strictly after `nowSec`); null when nothing waits. */
export interface DueTimer {
  atSec: number;
  what: "backoff" | "orphan-kill" | "nodes";
}

export function nextDueTimer(inputs: TimerInputs, nowSec: number): DueTimer | null {
  let due: DueTimer | null = null;
  const consider = (atSec: number, what: DueTimer["what"]) => {
    if (Number.isFinite(atSec) && atSec > nowSec && (due === null || atSec < due.atSec)) due = { atSec, what };
  };
  const { config } = inputs;
  for (const task of inputs.tasks) {
    // A running task's stored status is its previous one; its end is a message, not a timer.
    if (task.running || !task.status || !isInBackoff(task.status, nowSec)) continue;
    const job = config.jobs[task.job];
    // Jobs that cannot run start nothing when the backoff ends; enabling them is a config write (a poke).
    if (!job || !jobCanRun(job)) continue;
    consider(task.status.timeSec + task.status.backoffSec, "backoff");
  }
  for (const timer of inputs.orphanTimers) {
    const job = config.jobs[timer.job];
    const delay = job ? job.killOrphanTasksAfterSec : config.settings.killOrphanTasksAfterSec;
    if (delay !== null) consider(timer.firstSeenSec + delay, "orphan-kill");
  }
  if (inputs.nodesDueSec !== undefined) consider(inputs.nodesDueSec, "nodes");
  return due;
}
