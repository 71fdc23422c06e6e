// Status ingestion: turns batches of status-queue messages into stored statuses. Each task end
// is interpreted centrally (status line, kill, spawn failure, not running), checked against
// the running attempt (Bistro's update rules), and applied with the release of its
// resources in one transaction, so duplicates, reordered and stale messages change nothing.
// Only the worker holding the attempt can end it: an end must carry the attempt's token
// (docs/adr/0004), checked here and again in the conditional write; a forged end is refused and
// logged, and touches nothing. A malformed message is reported by id (for the dead-letter queue)
// and never blocks the rest. `ingestStatuses` is the one ingestion path of the Lambda and `sous local`.
import { taskId } from "../model/task";
import { statusMessageSchema, parseMessage, type TaskEnd } from "../dispatch/messages";
import { configuredBackoffSec, finishTask } from "../scheduler/backoff";
import { decideStatusUpdate, errorBackoff, parseStatusLine, wasNotRunning } from "../scheduler/status";
import type { ReportedStatus } from "../model/status";
import { secretMatches } from "../dispatch/tokens";
import type { StoreContext } from "../store/context";
import { replaceIdleTaskStatus } from "../store/replace-task-status";
import { applyFinishes, getTasks, type FinishWrite, type TaskItem } from "../store/tasks";
import { stateOfStatus } from "../scheduler/task-state";
import { isWakeMessage } from "./wake";

export interface StatusDeps {
  store: StoreContext;
  /** Milliseconds since the epoch. */
  clock: () => number;
  log?: (event: Record<string, unknown>) => void;
}

export interface StatusBatchResult {
  /** Messages to retry or dead-letter, with why. */
  failed: { id: string; error: string }[];
  applied: number;
  /** Ends that changed nothing: duplicates, reordered or stale messages. */
  ignored: number;
  /** Ends refused as not from the worker holding the attempt (wrong or missing token, wrong worker). */
  refused: number;
}

/** What the task's end means, before backoff: Bistro's status for each way a task ends. */
export function reportedStatusOf(end: TaskEnd): ReportedStatus {
  if (end.notRunning) return wasNotRunning();
  if (end.spawnError !== undefined) return errorBackoff(`Failed to start task: ${end.spawnError}`);
  // A status written before the kill does not count: the attempt broke its job's limit.
  if (end.timedOutAfterMs !== undefined) {
    return errorBackoff(`Task killed after exceeding its maximum runtime of ${end.timedOutAfterMs / 1000} s`);
  }
  return parseStatusLine(end.rawStatus, { killed: end.killed });
}

const keyOf = (end: { job: string; node: string }) => taskId(end.job, end.node);

/** Attempts at replacing a placeholder whose item keeps changing under us (forgive, say). */
const REPLACE_TRIES = 4;

/**
 * Replaces a placeholder status (worker lost, unknown to the worker, not running) with the real
 * status of the attempt that produced it. If the item changed meanwhile (a forgive rewrote the
 * placeholder), it is read again and the decision re-made, so a racing forgive never loses the
 * real status. False when there is nothing to replace any more (a new attempt started, say).
 */
async function replacePlaceholder(
  deps: StatusDeps,
  first: TaskItem,
  attempt: string,
  reported: ReportedStatus,
  nowSec: number,
): Promise<boolean> {
  let item: TaskItem | undefined = first;
  for (let tries = 0; tries < REPLACE_TRIES && item; tries++) {
    const stored = item.status;
    const decision = decideStatusUpdate(
      { ...(item.running ? { runningAttemptId: item.running.attempt } : {}), ...(stored ? { stored } : {}) },
      { attemptId: attempt, bits: reported.bits },
    );
    if (decision.action !== "replace" || item.lastAttempt !== attempt) return false;
    // The placeholder kept the attempt's backoff step; the real status continues from it.
    const status = finishTask({
      previous: undefined,
      nextBackoff: { noMoreBackoffs: false, seconds: stored ? configuredBackoffSec(stored) : 0 },
      reported,
      nowSec,
    });
    if (await replaceIdleTaskStatus(deps.store, item, status, stateOfStatus(status), attempt)) return true;
    [item] = await getTasks(deps.store, [item]);
  }
  return false;
}

/** A finish to write, with the message and end it came from. */
type EndFinish = FinishWrite & { messageId: string; end: TaskEnd; reported: ReportedStatus };

export async function applyStatuses(
  deps: StatusDeps,
  messages: readonly { id: string; body: string }[],
): Promise<StatusBatchResult> {
  const result: StatusBatchResult = { failed: [], applied: 0, ignored: 0, refused: 0 };
  const ends: { id: string; end: TaskEnd }[] = [];
  const seen = new Set<string>();
  for (const message of messages) {
    const parsed = parseMessage(statusMessageSchema, message.body);
    if (!parsed.ok) {
      result.failed.push({ id: message.id, error: `malformed status message: ${parsed.error}` });
      deps.log?.({ event: "status-malformed", id: message.id, error: parsed.error });
      continue;
    }
    for (const end of parsed.value.ends) {
      // Worker and token are part of the key: a forged end must not shadow the real one in a batch.
      const attemptKey = [keyOf(end), end.attempt, end.worker, end.token ?? ""].join("\u0000");
      if (seen.has(attemptKey)) {
        result.ignored++;
        continue;
      }
      seen.add(attemptKey);
      ends.push({ id: message.id, end });
    }
  }
  if (ends.length === 0) return result;

  const nowSec = deps.clock() / 1000;
  const items = new Map(
    (
      await getTasks(
        deps.store,
        ends.map(({ end }) => end),
      )
    ).map((item) => [keyOf(item), item]),
  );
  const finishes: EndFinish[] = [];
  const refuse = (end: TaskEnd, reason: string) => {
    result.refused++;
    deps.log?.({
      event: "status-forged",
      job: end.job,
      node: end.node,
      attempt: end.attempt,
      worker: end.worker,
      reason,
    });
  };
  for (const { id, end } of ends) {
    const item = items.get(keyOf(end));
    const reported = reportedStatusOf(end);
    const decision = decideStatusUpdate(
      {
        ...(item?.running ? { runningAttemptId: item.running.attempt } : {}),
        ...(item?.status ? { stored: item.status } : {}),
      },
      { attemptId: end.attempt, bits: reported.bits },
    );
    if (!item || decision.action === "ignore") {
      result.ignored++;
      const reason = decision.action === "ignore" ? decision.reason : "no such task";
      deps.log?.({ event: "status-ignored", job: end.job, node: end.node, attempt: end.attempt, reason });
      continue;
    }
    if (decision.action === "replace") {
      if (!secretMatches(end.token, item.lastTokenHash)) {
        refuse(end, end.token === undefined ? "no attempt token" : "wrong attempt token");
        continue;
      }
      if (await replacePlaceholder(deps, item, end.attempt, reported, nowSec)) result.applied++;
      else result.ignored++;
      continue;
    }
    const running = item.running;
    if (!running) {
      result.ignored++;
      continue;
    }
    // Only the worker holding the attempt knows its token; the worker id is checked besides.
    if (!secretMatches(end.token, running.tokenHash)) {
      refuse(end, end.token === undefined ? "no attempt token" : "wrong attempt token");
      continue;
    }
    if (running.worker !== end.worker) {
      refuse(end, `from ${end.worker}, not the running worker ${running.worker}`);
      continue;
    }
    const status = finishTask({ previous: item.status, nextBackoff: running.nextBackoff, reported, nowSec });
    finishes.push({
      messageId: id,
      end,
      reported,
      job: end.job,
      node: end.node,
      attempt: end.attempt,
      status,
      state: stateOfStatus(status),
      charges: running.charges,
      ...(running.tokenHash === undefined ? {} : { tokenHash: running.tokenHash }),
    });
  }
  // applyFinishes hands back the objects it was given: each still knows its message and end.
  const applied = await applyFinishes(deps.store, finishes);
  result.applied += applied.applied.length;
  // A finish whose item changed between our read and our write raced a round that ended the
  // attempt on its own (worker lost, unknown to its worker): the real status replaces that
  // placeholder, as it would have had it arrived a moment later.
  const raced = await getTasks(deps.store, applied.stale);
  const racedItems = new Map(raced.map((item) => [keyOf(item), item]));
  for (const finish of applied.stale as EndFinish[]) {
    const { end, reported } = finish;
    const item = racedItems.get(keyOf(finish));
    const replaced =
      item !== undefined &&
      secretMatches(end.token, item.lastTokenHash) &&
      (await replacePlaceholder(deps, item, end.attempt, reported, nowSec));
    if (replaced) result.applied++;
    else result.ignored++;
  }
  for (const { finish, reason } of applied.refused) {
    const { messageId } = finish as EndFinish;
    result.failed.push({ id: messageId, error: `could not release resources: ${reason}` });
    deps.log?.({ event: "status-refused", job: finish.job, node: finish.node, attempt: finish.attempt, reason });
  }
  return result;
}

/**
 * The one status-ingestion path (the Lambda's SQS batches, `sous local`'s receive loop): applies
 * the messages, then asks for a round when a task finished, so freed resources are used at once,
 * or when a wake-up came due.
 */
export async function ingestStatuses(
  deps: StatusDeps & { poke: () => Promise<void> },
  messages: readonly { id: string; body: string }[],
): Promise<StatusBatchResult> {
  // Wake-ups (lib/round/wake.ts) share the queue: they only ask for a round.
  const wakes = messages.filter((m) => isWakeMessage(m.body));
  const result = await applyStatuses(
    deps,
    wakes.length === 0 ? messages : messages.filter((m) => !isWakeMessage(m.body)),
  );
  if (result.applied > 0 || wakes.length > 0) await deps.poke();
  return result;
}
