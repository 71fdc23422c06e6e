// The in-memory adapter of the tasks port (lib/store/ports.ts) and the change log it shares with
// the scheduler state port: task items, resource counters and change entries in maps, with the
// commit protocol's semantics (fenced starts, versions, counters under their limits, finishes
// once per attempt and token, an entry for every write). Each write is all or nothing, as a
// DynamoDB transaction: units whose item or counter refuses are dropped and the rest retried.
// Items change only through their logged change (lib/store/tasks/changes.ts), so what the log
// says and what is stored cannot differ.
import { taskId } from "../model/task";
import type { ChangeEntry } from "./change-sequence";
import type { CounterDrift, CounterUsage } from "./counters";
import { LeaseLostError } from "./errors";
import { counterKindOf, counterSk, taskPk } from "./keys";
import type { Lease } from "./lease";
import type { TasksPort } from "./ports";
import { changedItem, changeKey } from "./tasks/changes";
import { counterId, sumCharges } from "./tasks/counter-updates";
import { byBytes, pageOfItems } from "./memory-task-page";
import type { TaskPage, TaskPageQuery } from "./tasks/list-page";
import type {
  CounterCharge,
  FinishApplyResult,
  FinishWrite,
  StartCommitResult,
  StartWrite,
  TaskChange,
  TaskItem,
} from "./tasks/types";

const copy = <T>(value: T): T => structuredClone(value);

/** The promise of `run()`'s result, rejected with what it throws (as a store's call would be). */
const promised = <T>(run: () => T): Promise<T> =>
  new Promise((resolve) => {
    resolve(run());
  });

/** DynamoDB's key size limits (bytes of UTF-8): a task or counter past them cannot be stored. */
const PARTITION_KEY_BYTES = 2048;
const SORT_KEY_BYTES = 1024;

/** Why the table would refuse a unit's keys (its task's or a counter's: too long, or empty), if it would. */
function oversizedKey(unit: { job: string; node: string; charges: readonly CounterCharge[] }): string | undefined {
  if (Buffer.byteLength(taskPk(unit.job)) > PARTITION_KEY_BYTES) return "the job's key is over 2048 bytes";
  const sortKeys = [unit.node, ...unit.charges.map((c) => counterSk(counterKindOf(c.level), c.name))];
  if (sortKeys.includes("")) return "a sort key is empty";
  return sortKeys.some((key) => Buffer.byteLength(key) > SORT_KEY_BYTES) ? "a sort key is over 1024 bytes" : undefined;
}

/** The change sequence and its entries (ADR 0003): dense, one entry per write. */
export class MemoryChangeLog {
  private readonly entries: TaskChange[][] = [];

  get sequence(): number {
    return this.entries.length;
  }

  append(changes: readonly TaskChange[]): void {
    this.entries.push(copy([...changes]));
  }

  read(after: number, through: number): ChangeEntry[] {
    const first = Math.max(after, 0);
    return this.entries
      .slice(first, Math.max(first, through))
      .map((changes, i) => ({ seq: first + i + 1, changes: copy(changes) }));
  }
}

type Unit = { job: string; node: string; charges: readonly CounterCharge[] };

export class MemoryTasks implements TasksPort {
  private readonly items = new Map<string, Map<string, TaskItem>>();
  private readonly counters: CounterUsage = new Map();
  private readonly jobs = new Set<string>();

  constructor(
    private readonly lease: { holds(lease: Lease): boolean },
    private readonly log: MemoryChangeLog,
  ) {}

  private item(job: string, node: string): TaskItem | undefined {
    return this.items.get(job)?.get(node);
  }

  readJobsWithTasks(): Promise<string[]> {
    return Promise.resolve([...this.jobs].sort());
  }

  readJobTasks(job: string): Promise<TaskItem[]> {
    const items = this.items.get(job) ?? new Map<string, TaskItem>();
    return Promise.resolve([...items.keys()].sort(byBytes).map((node) => copy(items.get(node) as TaskItem)));
  }

  async readTasks(jobs: readonly string[]): Promise<TaskItem[]> {
    const read = await Promise.all(jobs.map((job) => this.readJobTasks(job)));
    return read.flat();
  }

  getTasks(wanted: readonly { job: string; node: string }[]): Promise<TaskItem[]> {
    const keys = new Map(wanted.map((k) => [taskId(k.job, k.node), k]));
    const found = [...keys.values()].flatMap(({ job, node }) => {
      const item = this.item(job, node);
      return item ? [copy(item)] : [];
    });
    return Promise.resolve(found);
  }

  commitStarts(lease: Lease, requested: readonly StartWrite[], nowMs: number): Promise<StartCommitResult> {
    return promised(() => this.start(lease, requested, nowMs));
  }

  applyFinishes(finishes: readonly FinishWrite[], lease?: Lease): Promise<FinishApplyResult> {
    return promised(() => this.finish(finishes, lease));
  }

  private start(lease: Lease, requested: readonly StartWrite[], nowMs: number): StartCommitResult {
    const result: StartCommitResult = { committed: [], rejected: [], refused: [], transactions: 0 };
    const units: StartWrite[] = [];
    for (const start of requested) {
      const oversized = oversizedKey(start);
      if (start.charges.some((c) => c.amount > c.limit))
        result.rejected.push({ start, reason: "a charge exceeds its limit" });
      else if (oversized) result.refused.push({ start, reason: `the store refused it: ${oversized}` });
      else units.push(start);
    }
    const limits = new Map(units.flatMap((s) => s.charges).map((c) => [`${counterId(c)}/${c.resource}`, c.limit]));
    const { applied, transactions } = this.transact(
      units,
      lease,
      "take",
      (start, item) =>
        start.expectedVersion === null
          ? item === undefined
          : item?.version === start.expectedVersion && item.state !== "running",
      (counter, resource, used, amount) => {
        const max = (limits.get(`${counter}/${resource}`) ?? 0) - amount;
        return used === undefined ? max >= 0 : used <= max;
      },
      (start) => ({
        kind: "start",
        job: start.job,
        node: start.node,
        version: (start.expectedVersion ?? 0) + 1,
        running: {
          attempt: start.attempt,
          tokenHash: start.tokenHash,
          worker: start.worker,
          workerInstance: start.workerInstance,
          startedAtMs: nowMs,
          round: lease.round,
          charges: start.charges.map(({ level, name, resource, amount }) => ({ level, name, resource, amount })),
          nextBackoff: start.nextBackoff,
        },
      }),
      (start, _cause, reason) => result.rejected.push({ start, reason }),
    );
    for (const start of applied) this.jobs.add(start.job);
    result.committed.push(...applied);
    result.transactions = transactions;
    return result;
  }

  private finish(finishes: readonly FinishWrite[], lease?: Lease): FinishApplyResult {
    const result: FinishApplyResult = { applied: [], stale: [], refused: [], transactions: 0 };
    const units: FinishWrite[] = [];
    for (const finish of finishes) {
      const oversized = oversizedKey(finish);
      if (oversized) result.refused.push({ finish, reason: `the store refused it: ${oversized}` });
      else units.push(finish);
    }
    const { applied, transactions } = this.transact(
      units,
      lease,
      "release",
      (finish, item) =>
        item?.state === "running" &&
        item.running?.attempt === finish.attempt &&
        (finish.tokenHash === undefined || item.running.tokenHash === finish.tokenHash),
      (_counter, _resource, used, amount) => used !== undefined && used >= amount,
      ({ job, node, attempt, state, status, tokenHash }) => ({
        kind: "finish",
        job,
        node,
        attempt,
        state,
        status,
        ...(tokenHash === undefined ? {} : { tokenHash }),
      }),
      (finish, cause, reason) => {
        if (cause === "item") result.stale.push(finish);
        else result.refused.push({ finish, reason });
      },
    );
    result.applied.push(...applied);
    result.transactions = transactions;
    return result;
  }

  /**
   * Writes `units` all or nothing, as one transaction: fenced by `lease` when given; a unit whose
   * item fails its condition (or that repeats a task) is dropped first, then every unit charging
   * a counter that refuses its summed amounts; the rest is tried again. Applied: each unit's
   * change is logged in one entry and applied to its item, its charges taken or released.
   */
  private transact<T extends Unit>(
    units: readonly T[],
    lease: Lease | undefined,
    direction: "take" | "release",
    itemAllows: (unit: T, item: TaskItem | undefined) => boolean,
    counterAllows: (counter: string, resource: string, used: number | undefined, amount: number) => boolean,
    changeOf: (unit: T) => TaskChange,
    onDrop: (unit: T, cause: "item" | "counter", reason: string) => void,
  ): { applied: T[]; transactions: number } {
    let left = [...units];
    let transactions = 0;
    while (left.length > 0) {
      transactions++;
      if (lease && !this.lease.holds(lease)) {
        throw new LeaseLostError("The scheduler lease was taken over; this round commits nothing more.");
      }
      const changed = new Set(left.filter((unit) => !itemAllows(unit, this.item(unit.job, unit.node))));
      // A task written twice in one call: the first write that holds wins; the later one finds its item changed.
      const seen = new Set<string>();
      for (const unit of left) {
        const id = taskId(unit.job, unit.node);
        if (changed.has(unit)) continue;
        if (seen.has(id)) changed.add(unit);
        seen.add(id);
      }
      for (const unit of changed) onDrop(unit, "item", "its task item changed since it was read");
      if (changed.size > 0) {
        left = left.filter((unit) => !changed.has(unit));
        continue;
      }
      const sums = sumCharges(left.flatMap((unit) => unit.charges));
      const refusing = new Set(
        [...sums].flatMap(([counter, resources]) =>
          [...resources.values()].every((c) =>
            counterAllows(counter, c.resource, this.used(counter, c.resource), c.amount),
          )
            ? []
            : [counter],
        ),
      );
      if (refusing.size > 0) {
        const dropped = new Set<T>();
        for (const counter of refusing) {
          for (const unit of left) {
            if (dropped.has(unit) || !unit.charges.some((c) => c.amount > 0 && counterId(c) === counter)) continue;
            dropped.add(unit);
            onDrop(unit, "counter", `counter ${counter} refused the change`);
          }
        }
        left = left.filter((unit) => !dropped.has(unit));
        continue;
      }
      this.apply(left.map(changeOf), sums, direction === "take" ? 1 : -1);
      return { applied: left, transactions };
    }
    return { applied: [], transactions };
  }

  private used(counter: string, resource: string): number | undefined {
    return this.counters.get(counter)?.get(resource);
  }

  private apply(changes: TaskChange[], sums: ReturnType<typeof sumCharges>, sign: 1 | -1): void {
    this.log.append(changes);
    for (const change of copy(changes)) {
      const { job, node } = changeKey(change);
      const next = changedItem(this.item(job, node), change);
      if (!next) continue;
      let items = this.items.get(job);
      if (!items) this.items.set(job, (items = new Map<string, TaskItem>()));
      items.set(node, next);
    }
    for (const [counter, resources] of sums) {
      let usage = this.counters.get(counter);
      if (!usage) this.counters.set(counter, (usage = new Map<string, number>()));
      for (const { resource, amount } of resources.values()) {
        usage.set(resource, (usage.get(resource) ?? 0) + sign * amount);
      }
    }
  }

  listTaskPage(query: TaskPageQuery): Promise<TaskPage> {
    return Promise.resolve(copy(pageOfItems(this.items, query)));
  }

  readCounters(): Promise<CounterUsage> {
    return Promise.resolve(copy(this.counters));
  }

  repairCounters(lease: Lease, drift: readonly CounterDrift[]): Promise<boolean> {
    return promised(() => {
      if (!this.lease.holds(lease)) {
        throw new LeaseLostError("The scheduler lease was taken over; no counter was repaired.");
      }
      if (drift.some((d) => (this.used(d.counter, d.resource) ?? 0) !== d.stored)) return false;
      for (const { counter, resource, expected } of drift) {
        let usage = this.counters.get(counter);
        if (!usage) this.counters.set(counter, (usage = new Map<string, number>()));
        usage.set(resource, expected);
      }
      return true;
    });
  }

  readChanges(after: number, through: number): Promise<ChangeEntry[]> {
    return Promise.resolve(this.log.read(after, through));
  }
}
