// What a round carries to the next: orphan timers, worker-selector cursors, and how far
// dispatch has got (the highest round whose start messages were all sent), and the tasks whose
// start the store refused (lib/store/refused-tasks.ts). Written only
// under the lease, in a fenced transaction.
import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { GetCommand, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { LeaseLostError } from "./errors";
import type { OrphanTimer, WorkerCursors } from "../scheduler/snapshot";
import type { StoreContext } from "./context";
import { SCHEDULER_STATE_KEY } from "./keys";
import type { RefusedTask } from "./refused-tasks";
import { leaseFence, type Lease } from "./lease";

export interface SchedulerState {
  orphanTimers: OrphanTimer[];
  workerCursors: WorkerCursors;
  /** Start messages of rounds up to this one were all sent. */
  dispatchedThroughRound: number;
  /** Where the nodes refresh stands (absent before the first refresh). */
  nodes?: NodeRefreshMark;
  /** Tasks whose start the store refused outright, with the status recorded for them. */
  refusedTasks: RefusedTask[];
  /** When a round last re-sent start orders of an earlier round (0: never). */
  lastResendAtMs: number;
  /** Left by a round that changed nothing: until it is stale, rounds may stop early (ADR 0003). */
  quiet?: QuietMark;
}

/** What a round that changed nothing saw (lib/round/idle-round.ts). */
export interface QuietMark {
  /** The change sequence, read before anything else the round read. */
  sequence: number;
  configVersion: number;
  /** Digest of the workers as the round saw them. */
  workers: string;
  /** The earliest moment at which time alone may change the plan. */
  wakeAtMs: number;
  /** Per worker: a heartbeat list made at or after this time may end an attempt it lacks. */
  listedAfter?: Record<string, number>;
}

/**
 * The last nodes refresh. `sourcesHash` and `inputs` are those of the last attempt, so an edit
 * of the node settings or a push triggers a refresh at once; `setSourcesHash` is that of the
 * stored set, so readers know whether it was made from the current settings.
 */
export interface NodeRefreshMark {
  /** Hash of the levels, node sources and instance name of the last attempt. */
  sourcesHash: string;
  /** Input versions (by node_sources index) of the sources that report one, at the last attempt. */
  inputs: Record<string, string>;
  /** Version of the stored tree set after the last success; null before any. */
  setVersion: number | null;
  /** `sourcesHash` of the settings the stored set came from. */
  setSourcesHash: string | null;
  /** Last successful refresh (ms since the epoch), changed or not; null before any. */
  refreshedAtMs: number | null;
  attemptedAtMs: number;
  /** Why the last attempt failed; null when it succeeded. */
  error: string | null;
  /** When time-based sources (`add_time`) next change what the last refresh produced (ms since the epoch). */
  nextChangeAtMs?: number;
}

export const EMPTY_SCHEDULER_STATE: SchedulerState = {
  orphanTimers: [],
  workerCursors: { all: null, byHost: {} },
  dispatchedThroughRound: 0,
  refusedTasks: [],
  lastResendAtMs: 0,
};

export async function readSchedulerState(ctx: StoreContext): Promise<SchedulerState> {
  const result = await ctx.doc.send(
    new GetCommand({ TableName: ctx.tableName, Key: SCHEDULER_STATE_KEY, ConsistentRead: true }),
  );
  const { pk: _pk, sk: _sk, ...item } = (result.Item ?? {}) as Partial<SchedulerState> & { pk?: string; sk?: string };
  return {
    ...EMPTY_SCHEDULER_STATE,
    ...item,
    workerCursors: item.workerCursors ?? EMPTY_SCHEDULER_STATE.workerCursors,
    refusedTasks: item.refusedTasks ?? [],
  };
}

export async function writeSchedulerState(ctx: StoreContext, lease: Lease, state: SchedulerState): Promise<void> {
  try {
    await ctx.doc.send(
      new TransactWriteCommand({
        TransactItems: [
          leaseFence(ctx, lease),
          { Put: { TableName: ctx.tableName, Item: { ...SCHEDULER_STATE_KEY, ...state } } },
        ],
      }),
    );
  } catch (error) {
    if (
      error instanceof TransactionCanceledException &&
      error.CancellationReasons?.[0]?.Code === "ConditionalCheckFailed"
    ) {
      throw new LeaseLostError("The scheduler lease was taken over; the round's state was not written.");
    }
    throw error;
  }
}
