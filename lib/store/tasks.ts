// Task items and the commit protocol (ADR 0002). A task item exists only for a
// (job, node) that started, finished or backs off; pending tasks are implied. Starting tasks
// commits, per TransactWriteItems batch of at most 100 items: a fence on the lease epoch, one
// update per touched counter with the batch's summed amounts, and one conditional put per
// task. Finishing a task moves it off `running` for the matching attempt and releases its
// charges in the same transaction, so a duplicate or stale status changes nothing.
import { taskId, type TaskState } from "../model/task";
import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import {
  BatchGetCommand,
  GetCommand,
  TransactWriteCommand,
  paginateQuery,
  type BatchGetCommandOutput,
  type TransactWriteCommandInput,
} from "@aws-sdk/lib-dynamodb";
import type { BackoffStep, TaskStatus } from "../model/status";
import { changeSequenceBump } from "./change-sequence";
import type { StoreContext } from "./context";
import { LeaseLostError } from "./errors";
import { JOBS_WITH_TASKS_KEY, counterKey, counterKindOf, taskKey, taskPk, usedAttribute } from "./keys";
import { leaseFence, type Lease } from "./lease";

type TransactItem = NonNullable<TransactWriteCommandInput["TransactItems"]>[number];

export const TRANSACTION_ITEM_LIMIT = 100;

/** Resources a task holds on one counter (a data node or a worker). */
export interface CounterCharge {
  /** The node's level, or `worker`. */
  level: string;
  name: string;
  resource: string;
  amount: number;
}

/** A charge with the limit the round planned against (used only when starting). */
export interface LimitedCharge extends CounterCharge {
  limit: number;
}

/** Coarse state for listings and filters; the status bits say the rest. */
export type { TaskState };

/** What is stored per (job, node). */
export interface TaskItem {
  job: string;
  node: string;
  state: TaskState;
  /** Bumped on every write; starts are conditional on the version the round read. */
  version: number;
  /** The last status that is not `running` (while running: the previous one, for prev_status). */
  status?: TaskStatus;
  /** The attempt that produced `status`. */
  lastAttempt?: string;
  /** SHA-256 of that attempt's token: a late real end must still present it. */
  lastTokenHash?: string;
  /** Present while running. */
  running?: {
    attempt: string;
    /** SHA-256 of the attempt's token (lib/dispatch/tokens.ts); absent on items started before tokens. */
    tokenHash?: string;
    worker: string;
    /** The worker process instance the attempt was sent to (a re-registered worker is a new one). */
    workerInstance: string;
    startedAtMs: number;
    /** The round that committed the start; dispatch is repeated for rounds not marked dispatched. */
    round: number;
    charges: CounterCharge[];
    nextBackoff: BackoffStep;
  };
}

export interface StartWrite {
  job: string;
  node: string;
  attempt: string;
  /** SHA-256 of the attempt's token. */
  tokenHash: string;
  worker: string;
  workerInstance: string;
  charges: LimitedCharge[];
  nextBackoff: BackoffStep;
  /** Version of the item the plan saw; null when there was no item (never started). */
  expectedVersion: number | null;
}

export interface StartCommitResult {
  committed: StartWrite[];
  /** Starts dropped because their item or a counter changed since the snapshot. */
  rejected: { start: StartWrite; reason: string }[];
  /**
   * Starts the store refuses outright (a non-retryable validation error, e.g. a key over
   * DynamoDB's size limits): retrying cannot help, so the round records them against the task.
   */
  refused: { start: StartWrite; reason: string }[];
  transactions: number;
}

interface StoredTask {
  pk: string;
  sk: string;
  job: string;
  node: string;
  state: TaskState;
  version: number;
  status?: TaskStatus;
  lastAttempt?: string;
  lastTokenHash?: string;
  running?: TaskItem["running"];
}

function toTaskItem(item: Record<string, unknown>): TaskItem {
  const stored = item as unknown as StoredTask;
  return {
    job: stored.job,
    node: stored.node,
    state: stored.state,
    version: stored.version,
    ...(stored.status ? { status: stored.status } : {}),
    ...(stored.lastAttempt ? { lastAttempt: stored.lastAttempt } : {}),
    ...(stored.lastTokenHash ? { lastTokenHash: stored.lastTokenHash } : {}),
    ...(stored.running ? { running: stored.running } : {}),
  };
}

/** Every job that has task items (including jobs since deleted from the config). */
export async function readJobsWithTasks(ctx: StoreContext): Promise<string[]> {
  const result = await ctx.doc.send(
    new GetCommand({ TableName: ctx.tableName, Key: JOBS_WITH_TASKS_KEY, ConsistentRead: true }),
  );
  const jobs = result.Item?.jobs as Set<string> | undefined;
  return jobs ? [...jobs].sort() : [];
}

/** All task items of one job, paginated. */
export async function readJobTasks(ctx: StoreContext, job: string): Promise<TaskItem[]> {
  const tasks: TaskItem[] = [];
  const pages = paginateQuery(
    { client: ctx.doc },
    {
      TableName: ctx.tableName,
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": taskPk(job) },
      ConsistentRead: true,
    },
  );
  for await (const page of pages) for (const item of page.Items ?? []) tasks.push(toTaskItem(item));
  return tasks;
}

/** Task items of many jobs, read in parallel (a few queries at a time). */
export async function readTasks(ctx: StoreContext, jobs: readonly string[], parallel = 8): Promise<TaskItem[]> {
  const results: TaskItem[][] = [];
  for (let i = 0; i < jobs.length; i += parallel) {
    results.push(...(await Promise.all(jobs.slice(i, i + parallel).map((job) => readJobTasks(ctx, job)))));
  }
  return results.flat();
}

/** Task items by key (missing ones are left out; repeated keys read once), consistent reads, 100 per call. */
export async function getTasks(
  ctx: StoreContext,
  wanted: readonly { job: string; node: string }[],
): Promise<TaskItem[]> {
  const keys = [...new Map(wanted.map((k) => [taskId(k.job, k.node), k])).values()];
  const found: TaskItem[] = [];
  for (let i = 0; i < keys.length; i += 100) {
    let pending: Record<string, unknown>[] | undefined = keys.slice(i, i + 100).map((k) => taskKey(k.job, k.node));
    for (let attempt = 0; pending && pending.length > 0; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** attempt)));
      const result: BatchGetCommandOutput = await ctx.doc.send(
        new BatchGetCommand({ RequestItems: { [ctx.tableName]: { Keys: pending, ConsistentRead: true } } }),
      );
      for (const item of result.Responses?.[ctx.tableName] ?? []) found.push(toTaskItem(item));
      pending = result.UnprocessedKeys?.[ctx.tableName]?.Keys;
    }
  }
  return found;
}

const counterId = (c: CounterCharge) => `${counterKindOf(c.level)}#${c.name}`;

/** Sums charges per counter and resource, dropping zero amounts (they need no write). */
function sumCharges<C extends CounterCharge>(charges: readonly C[]): Map<string, Map<string, C>> {
  const byCounter = new Map<string, Map<string, C>>();
  for (const charge of charges) {
    if (charge.amount === 0) continue;
    let resources = byCounter.get(counterId(charge));
    if (!resources) byCounter.set(counterId(charge), (resources = new Map<string, C>()));
    const previous = resources.get(charge.resource);
    resources.set(charge.resource, previous ? { ...previous, amount: previous.amount + charge.amount } : charge);
  }
  return byCounter;
}

/** One update per counter: add (start) or subtract (finish) the summed amounts, conditionally. */
function counterUpdates(
  ctx: StoreContext,
  charges: readonly CounterCharge[],
  direction: "take" | "release",
  limits?: ReadonlyMap<string, number>,
): { counter: string; item: TransactItem }[] {
  return [...sumCharges(charges)].map(([counter, resources]) => {
    const names: Record<string, string> = {};
    const values: Record<string, number> = {};
    const sets: string[] = [];
    const conditions: string[] = [];
    let i = 0;
    for (const charge of resources.values()) {
      const n = `#u${i}`;
      names[n] = usedAttribute(charge.resource);
      values[`:a${i}`] = charge.amount;
      if (direction === "take") {
        // A counter is created on first use; in use may not pass limit - amount.
        const limit = limits?.get(`${counter}/${charge.resource}`) ?? 0;
        values[`:max${i}`] = limit - charge.amount;
        values[":zero"] = 0;
        sets.push(`${n} = if_not_exists(${n}, :zero) + :a${i}`);
        conditions.push(`(attribute_not_exists(${n}) OR ${n} <= :max${i})`);
      } else {
        sets.push(`${n} = ${n} - :a${i}`);
        conditions.push(`${n} >= :a${i}`);
      }
      i++;
    }
    const first = resources.values().next().value as CounterCharge;
    return {
      counter,
      item: {
        Update: {
          TableName: ctx.tableName,
          Key: counterKey(counterKindOf(first.level), first.name),
          UpdateExpression: `SET ${sets.join(", ")}`,
          ConditionExpression: conditions.join(" AND "),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        },
      },
    };
  });
}

/** Marks a task running for one attempt; the last finished status stays (it is `prev_status`). */
function startUpdate(ctx: StoreContext, start: StartWrite, round: number, nowMs: number): TransactItem {
  const running: NonNullable<TaskItem["running"]> = {
    attempt: start.attempt,
    tokenHash: start.tokenHash,
    worker: start.worker,
    workerInstance: start.workerInstance,
    startedAtMs: nowMs,
    round,
    charges: start.charges.map(({ level, name, resource, amount }) => ({ level, name, resource, amount })),
    nextBackoff: start.nextBackoff,
  };
  if (start.expectedVersion === null) {
    // No item yet: a plain conditional put (cheaper to evaluate than an update).
    const item: StoredTask = {
      ...taskKey(start.job, start.node),
      job: start.job,
      node: start.node,
      state: "running",
      version: 1,
      running,
    };
    return { Put: { TableName: ctx.tableName, Item: item, ConditionExpression: "attribute_not_exists(pk)" } };
  }
  return {
    Update: {
      TableName: ctx.tableName,
      Key: taskKey(start.job, start.node),
      UpdateExpression: "SET #state = :running, #version = :next, #running = :attempt",
      ConditionExpression: "#version = :version AND #state <> :running",
      ExpressionAttributeNames: { "#state": "state", "#version": "version", "#running": "running" },
      ExpressionAttributeValues: {
        ":running": "running",
        ":next": start.expectedVersion + 1,
        ":attempt": running,
        ":version": start.expectedVersion,
      },
    },
  };
}

/** Splits work into transactions of at most 100 items (fence + distinct counters + tasks). */
function packBatches<T>(work: readonly T[], countersOf: (t: T) => Iterable<string>, reserved: number): T[][] {
  const batches: T[][] = [];
  let batch: T[] = [];
  let counters = new Set<string>();
  for (const unit of work) {
    const added = [...countersOf(unit)].filter((c) => !counters.has(c));
    if (batch.length > 0 && reserved + counters.size + added.length + batch.length + 1 > TRANSACTION_ITEM_LIMIT) {
      batches.push(batch);
      batch = [];
      counters = new Set();
    }
    batch.push(unit);
    for (const c of countersOf(unit)) counters.add(c);
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

const RETRYABLE = new Set(["TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"]);

/**
 * A request DynamoDB refuses as a whole, whatever the other items say: a key or item over its
 * size limits, an invalid attribute. TransactWriteItems names no culprit item for these.
 */
export function isStoreValidationError(error: unknown): error is Error {
  return error instanceof Error && error.name === "ValidationException";
}

/** What each item of a transaction stands for, to read its cancellation reason. */
type ItemOwner<T> = { fence: true } | { jobs: true } | { sequence: true } | { counter: string } | { unit: T };

/**
 * Runs `build(units)` as one transaction. On cancellation it reads the reasons: a failed
 * fence means the lease is lost; a failed unit item or counter drops the units concerned
 * (reported through onDrop) and the rest is retried; plain conflicts are retried with backoff.
 * A validation error refuses the whole request without naming an item: the batch is split in
 * halves until the units the store refuses on their own are found (dropped as "refused"),
 * so one bad unit costs about 2·log2(batch) extra transactions and never blocks the others.
 */
async function transactWithDrops<T>(
  ctx: StoreContext,
  batch: T[],
  countersOf: (unit: T) => Set<string>,
  build: (units: T[]) => { item: TransactItem; owner: ItemOwner<T> }[],
  onDrop: (unit: T, cause: "item" | "counter" | "refused", reason: string) => void,
): Promise<{ applied: T[]; transactions: number }> {
  let units = batch;
  let transactions = 0;
  for (let attempt = 0; units.length > 0; attempt++) {
    const parts = build(units);
    transactions++;
    try {
      await ctx.doc.send(new TransactWriteCommand({ TransactItems: parts.map((p) => p.item) }));
      return { applied: units, transactions };
    } catch (error) {
      if (isStoreValidationError(error)) {
        const done = await bisectRefusals(ctx, units, error.message, countersOf, build, onDrop);
        return { applied: done.applied, transactions: transactions + done.transactions };
      }
      if (!(error instanceof TransactionCanceledException)) throw error;
      const reasons = error.CancellationReasons ?? [];
      const failed = reasons.flatMap((r, i) =>
        r.Code && r.Code !== "None" ? [{ code: r.Code, owner: parts[i]?.owner, message: r.Message ?? r.Code }] : [],
      );
      // Some stores name the refused items in the cancellation (DynamoDB Local does): drop exactly
      // those units; a refused item no unit owns (a counter's key) is found by splitting.
      const invalid = failed.filter((f) => f.code === "ValidationError");
      if (invalid.length > 0) {
        const owned = invalid.flatMap((f) => (f.owner && "unit" in f.owner ? [{ unit: f.owner.unit, ...f }] : []));
        if (owned.length < invalid.length) {
          const message = invalid.map((f) => f.message).join("; ");
          const done = await bisectRefusals(ctx, units, message, countersOf, build, onDrop);
          return { applied: done.applied, transactions: transactions + done.transactions };
        }
        for (const { unit, message } of owned) onDrop(unit, "refused", `the store refused it: ${message}`);
        const refused = new Set(owned.map((o) => o.unit));
        units = units.filter((u) => !refused.has(u));
        continue;
      }
      if (failed.some((f) => f.owner && "fence" in f.owner && f.code === "ConditionalCheckFailed")) {
        throw new LeaseLostError("The scheduler lease was taken over; this round commits nothing more.");
      }
      const conditionFailures = failed.filter((f) => f.code === "ConditionalCheckFailed");
      if (conditionFailures.length === 0) {
        if (!failed.every((f) => RETRYABLE.has(f.code)) || attempt >= 8) throw error;
        await new Promise((r) => setTimeout(r, Math.random() * 20 * 2 ** attempt));
        continue;
      }
      const dropped = new Set<T>();
      const changed = conditionFailures.flatMap((f) => (f.owner && "unit" in f.owner ? [f.owner.unit] : []));
      for (const unit of changed) {
        dropped.add(unit);
        onDrop(unit, "item", "its task item changed since it was read");
      }
      // Units whose item changed are dropped first, alone: their charges may be what a counter
      // refused (a finish already applied by someone else has released them), so the rest is retried
      // before any counter is blamed.
      for (const { owner } of changed.length > 0 ? [] : conditionFailures) {
        if (owner && "counter" in owner) {
          // A counter refused: drop every unit charging it (a round re-plans them next time).
          for (const unit of units) {
            if (countersOf(unit).has(owner.counter) && !dropped.has(unit)) {
              dropped.add(unit);
              onDrop(unit, "counter", `counter ${owner.counter} refused the change`);
            }
          }
        }
      }
      // A condition failed on an item no unit owns (cannot happen by construction): do not spin.
      if (dropped.size === 0) throw error;
      units = units.filter((u) => !dropped.has(u));
    }
  }
  return { applied: [], transactions };
}

/** Splits a refused batch in halves and commits each, down to the single units the store refuses. */
async function bisectRefusals<T>(
  ctx: StoreContext,
  units: T[],
  message: string,
  countersOf: (unit: T) => Set<string>,
  build: (units: T[]) => { item: TransactItem; owner: ItemOwner<T> }[],
  onDrop: (unit: T, cause: "item" | "counter" | "refused", reason: string) => void,
): Promise<{ applied: T[]; transactions: number }> {
  const [only] = units;
  if (only !== undefined && units.length === 1) {
    onDrop(only, "refused", `the store refused it: ${message}`);
    return { applied: [], transactions: 0 };
  }
  const middle = Math.ceil(units.length / 2);
  const applied: T[] = [];
  let transactions = 0;
  for (const half of [units.slice(0, middle), units.slice(middle)]) {
    const done = await transactWithDrops(ctx, half, countersOf, build, onDrop);
    applied.push(...done.applied);
    transactions += done.transactions;
  }
  return { applied, transactions };
}

/**
 * Commits task starts under `lease`. Throws LeaseLostError when fenced out (nothing of the
 * failed batch is applied; earlier batches stand, and their tasks were validly started).
 */
export async function commitStarts(
  ctx: StoreContext,
  lease: Lease,
  requested: readonly StartWrite[],
  nowMs: number,
): Promise<StartCommitResult> {
  const result: StartCommitResult = { committed: [], rejected: [], refused: [], transactions: 0 };
  let starts = requested;
  const countersOf = (s: StartWrite) => new Set(s.charges.filter((c) => c.amount > 0).map(counterId));
  // A counter's first use has no value to compare, so an amount over its limit is refused here.
  const fits = (s: StartWrite) => s.charges.every((c) => c.amount <= c.limit);
  for (const start of starts) if (!fits(start)) result.rejected.push({ start, reason: "a charge exceeds its limit" });
  starts = starts.filter(fits);
  // Reserved per transaction: the lease fence, the jobs-with-tasks set and the change sequence.
  for (const batch of packBatches(starts, countersOf, 3)) {
    const { applied, transactions } = await transactWithDrops(
      ctx,
      batch,
      countersOf,
      (units) => {
        const charges = units.flatMap((u) => u.charges);
        const limits = new Map(charges.map((c) => [`${counterId(c)}/${c.resource}`, c.limit]));
        const counters = counterUpdates(ctx, charges, "take", limits);
        return [
          { item: leaseFence(ctx, lease), owner: { fence: true } },
          {
            item: {
              Update: {
                TableName: ctx.tableName,
                Key: JOBS_WITH_TASKS_KEY,
                UpdateExpression: "ADD #jobs :jobs",
                ExpressionAttributeNames: { "#jobs": "jobs" },
                ExpressionAttributeValues: { ":jobs": new Set(units.map((u) => u.job)) },
              },
            },
            owner: { jobs: true },
          },
          { item: changeSequenceBump(ctx), owner: { sequence: true } },
          ...counters.map(({ counter, item }) => ({ item, owner: { counter } })),
          ...units.map((unit) => ({ item: startUpdate(ctx, unit, lease.round, nowMs), owner: { unit } })),
        ];
      },
      (start, cause, reason) => (cause === "refused" ? result.refused : result.rejected).push({ start, reason }),
    );
    result.committed.push(...applied);
    result.transactions += transactions;
  }
  return result;
}

/** A finished attempt to record: the new stored status and the state it files under. */
export interface FinishWrite {
  job: string;
  node: string;
  attempt: string;
  status: TaskStatus;
  state: Exclude<TaskState, "running">;
  /** The charges the running item recorded (released now). */
  charges: CounterCharge[];
  /** The running item's token hash: the write is conditional on it, and it is kept as `lastTokenHash`. */
  tokenHash?: string;
}

export interface FinishApplyResult {
  applied: FinishWrite[];
  /** Finishes whose task was no longer running that attempt (duplicates, stale messages). */
  stale: FinishWrite[];
  /** Finishes a counter refused (it holds less than the task recorded): counters need repair. */
  refused: { finish: FinishWrite; reason: string }[];
  transactions: number;
}

function finishUpdate(ctx: StoreContext, finish: FinishWrite): TransactItem {
  const token = finish.tokenHash;
  return {
    Update: {
      TableName: ctx.tableName,
      Key: taskKey(finish.job, finish.node),
      UpdateExpression:
        "SET #state = :state, #status = :status, #version = #version + :one, #last = :attempt" +
        (token === undefined ? " REMOVE #running, #lastToken" : ", #lastToken = :token REMOVE #running"),
      // The token is part of the decision: an end checked against one attempt never applies to another.
      ConditionExpression:
        "#state = :running AND #running.#attempt = :attempt" +
        (token === undefined ? "" : " AND #running.#tokenHash = :token"),
      ExpressionAttributeNames: {
        "#state": "state",
        "#status": "status",
        "#version": "version",
        "#running": "running",
        "#attempt": "attempt",
        "#last": "lastAttempt",
        "#lastToken": "lastTokenHash",
        ...(token === undefined ? {} : { "#tokenHash": "tokenHash" }),
      },
      ExpressionAttributeValues: {
        ":state": finish.state,
        ":status": finish.status,
        ":one": 1,
        ":running": "running",
        ":attempt": finish.attempt,
        ...(token === undefined ? {} : { ":token": token }),
      },
    },
  };
}

/**
 * Records finished attempts and releases their charges, in transactions of at most 100
 * items. A finish whose task is not running that attempt is reported stale and changes nothing.
 * With `lease` (a round ending attempts on its own judgement: lost workers, unknown attempts),
 * every transaction is fenced like a commit: a round that lost its lease ends nothing
 * (LeaseLostError).
 */
export async function applyFinishes(
  ctx: StoreContext,
  finishes: readonly FinishWrite[],
  lease?: Lease,
): Promise<FinishApplyResult> {
  const result: FinishApplyResult = { applied: [], stale: [], refused: [], transactions: 0 };
  const countersOf = (f: FinishWrite) => new Set(f.charges.filter((c) => c.amount > 0).map(counterId));
  // Room for the change-sequence bump, and the lease fence when a round ends attempts itself.
  for (const batch of packBatches(finishes, countersOf, lease ? 2 : 1)) {
    const { applied, transactions } = await transactWithDrops(
      ctx,
      batch,
      countersOf,
      (units) => {
        const counters = counterUpdates(
          ctx,
          units.flatMap((u) => u.charges),
          "release",
        );
        return [
          { item: changeSequenceBump(ctx), owner: { sequence: true } as const },
          ...(lease ? [{ item: leaseFence(ctx, lease), owner: { fence: true } as const }] : []),
          ...counters.map(({ counter, item }) => ({ item, owner: { counter } })),
          ...units.map((unit) => ({ item: finishUpdate(ctx, unit), owner: { unit } })),
        ];
      },
      (finish, cause, reason) => {
        if (cause === "item") result.stale.push(finish);
        else result.refused.push({ finish, reason });
      },
    );
    result.applied.push(...applied);
    result.transactions += transactions;
  }
  return result;
}

/** Items one listing request reads at most before it ends its page early. */
export const TASK_PAGE_SCAN_BUDGET = 10_000;

/** A page request over task items of some jobs (API listings). */
export interface TaskPageQuery {
  /** The jobs to list, sorted ascending (pages walk them in this order). */
  jobs: readonly string[];
  /** Only this node. */
  node?: string;
  state?: TaskState;
  limit: number;
  /** Continue after this key (the previous page's `next`). */
  after?: { job: string; node: string };
  /** Items read at most before the page ends early; default TASK_PAGE_SCAN_BUDGET. */
  scanBudget?: number;
}

export interface TaskPage {
  tasks: TaskItem[];
  /** Where the next page starts (after this key), when more may follow. */
  next?: { job: string; node: string };
}

/**
 * One page of task items in (job order, node order). With `node`, the items are fetched by key;
 * otherwise each job's partition is queried from the cursor on, filtered by state on the server.
 */
export async function listTaskPage(ctx: StoreContext, query: TaskPageQuery): Promise<TaskPage> {
  const want = query.limit + 1;
  const found: TaskItem[] = [];
  const after = query.after;
  const jobs = after ? query.jobs.filter((job) => job >= after.job) : query.jobs;
  if (query.node !== undefined) {
    const node = query.node;
    const items = await getTasks(
      ctx,
      jobs.map((job) => ({ job, node })),
    );
    const byJob = new Map(items.map((item) => [item.job, item]));
    for (const job of jobs) {
      const item = byJob.get(job);
      if (!item || (query.state !== undefined && item.state !== query.state)) continue;
      if (after && job === after.job && node <= after.node) continue;
      found.push(item);
      if (found.length >= want) break;
    }
  } else {
    // A rare state can sit among many items: past a read budget, the page ends early (even empty)
    // with a cursor at the last item read, as DynamoDB's own paging does.
    const budget = query.scanBudget ?? TASK_PAGE_SCAN_BUDGET;
    let scanned = 0;
    for (const job of jobs) {
      const start = after && job === after.job ? { pk: taskPk(job), sk: after.node } : undefined;
      const pages = paginateQuery(
        { client: ctx.doc, ...(start ? { startingToken: start } : {}) },
        {
          TableName: ctx.tableName,
          KeyConditionExpression: "pk = :pk",
          ...(query.state !== undefined
            ? {
                FilterExpression: "#state = :state",
                ExpressionAttributeNames: { "#state": "state" },
                ExpressionAttributeValues: { ":pk": taskPk(job), ":state": query.state },
              }
            : { ExpressionAttributeValues: { ":pk": taskPk(job) } }),
          Limit: Math.min(1000, want - found.length, budget),
          ConsistentRead: true,
        },
      );
      for await (const page of pages) {
        for (const item of page.Items ?? []) found.push(toTaskItem(item));
        if (found.length >= want) break;
        scanned += page.ScannedCount ?? 0;
        const lastRead: unknown = page.LastEvaluatedKey?.sk;
        if (scanned >= budget && typeof lastRead === "string") {
          return { tasks: found, next: { job, node: lastRead } };
        }
      }
      if (found.length >= want) break;
    }
  }
  const tasks = found.slice(0, query.limit);
  const last = tasks.at(-1);
  return found.length > query.limit && last ? { tasks, next: { job: last.job, node: last.node } } : { tasks };
}
