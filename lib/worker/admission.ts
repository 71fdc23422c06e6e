// Which start orders the worker accepts: a pure decision over what the worker knows (its phase, its
// instance, when it registered, the attempts it ran, refused or runs, the heartbeat lists it made).
// A duplicate is ignored (its
// first copy was answered already); a start the worker must not run is refused, and the daemon
// answers it with a notRunning end so the scheduler frees the task at once; the rest run.

export interface StartOrder {
  job: string;
  node: string;
  attempt: string;
  /** The instance the order was meant for, when the sender knew it. */
  workerInstance?: string | undefined;
  /** Lists made from this time on must name the attempt (StartMessage.listDeadlineMs). */
  listDeadlineMs?: number | undefined;
}

export interface AdmissionView {
  /** False once the worker is stopping or dying. */
  accepting: boolean;
  instanceId: string;
  /** When this instance sent its registration. */
  registeredAtMs: number;
  /** Attempts running here, or that ended or were refused here. */
  knownAttempts: { has(attempt: string): boolean };
  /** The attempt of this task running here, if any. */
  runningAttemptOf: (job: string, node: string) => string | undefined;
  /** When the newest attempt list this instance sent with a heartbeat was made; undefined: none yet. */
  lastListMadeAtMs: number | undefined;
}

export type Admission =
  { decision: "run" } | { decision: "ignore"; reason: string } | { decision: "refuse"; reason: string };

/**
 * @param sentAtMs when the order was sent (SQS's SentTimestamp), if known: an order without an
 *   instance that was sent before this instance registered was meant for a previous one.
 */
export function admitStart(order: StartOrder, sentAtMs: number | undefined, view: AdmissionView): Admission {
  if (view.knownAttempts.has(order.attempt)) {
    return { decision: "ignore", reason: "duplicate: this attempt ran or was refused here" };
  }
  const refuse = (reason: string): Admission => ({ decision: "refuse", reason });
  if (!view.accepting) return refuse("the worker is shutting down");
  if (order.workerInstance !== undefined && order.workerInstance !== view.instanceId) {
    return refuse(`meant for instance ${order.workerInstance} of this worker, not this one`);
  }
  if (order.workerInstance === undefined && sentAtMs !== undefined && sentAtMs < view.registeredAtMs) {
    return refuse("sent before this worker instance registered (meant for a previous instance)");
  }
  // A list made past the deadline left this attempt out (it had not arrived): the scheduler may
  // have ended the attempt on that list's word and freed its resources, so running it now could
  // overlap its retry or over-subscribe a limit. Refusing ends it as not running instead.
  const listedAt = view.lastListMadeAtMs;
  if (order.listDeadlineMs !== undefined && listedAt !== undefined && listedAt >= order.listDeadlineMs) {
    return refuse(
      `arrived after a heartbeat made at ${listedAt} left it out, past its listing deadline ${order.listDeadlineMs}`,
    );
  }
  const other = view.runningAttemptOf(order.job, order.node);
  if (other !== undefined) return refuse(`attempt ${other} of the same task is running here`);
  return { decision: "run" };
}
