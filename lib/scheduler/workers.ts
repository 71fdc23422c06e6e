// Picking the worker for a task: the `roundrobin` selector with its rotating
// cursor and the `busiest` selector, both restricted to HEALTHY workers, host placement,
// worker-level filters on the hostname, and free worker resources.
import type { Settings } from "../model/config";
import { WORKER_LEVEL } from "../model/config";
import type { ResourceBook } from "./resources";
import type { WorkerCursors, WorkerSnapshot } from "./snapshot";

/**
 * Bistro's TaskRunnerResponse: the task started, or did not (try the next candidate), or
 * nothing more can start this round. String literals, not imported constants: the hot loops
 * compare them without reading a module binding.
 */
export type TryResult = "ran" | "did_not_run" | "stop";

/** One pool to walk: worker indices in id order and the roundrobin cursor into it. */
interface Pool {
  members: Int32Array;
  cursor: number;
}

export type WorkerChoice = { result: "ran"; worker: number } | { result: "did_not_run" | "stop" };

export class WorkerSelector {
  /** Sorted by id; indices into this array are the worker numbers of the round. */
  readonly workers: readonly WorkerSnapshot[];
  readonly indexOf: ReadonlyMap<string, number>;
  private readonly healthy: Uint8Array;
  private readonly all: Pool;
  private readonly byHost = new Map<string, Pool>();
  private readonly weights: Float64Array;
  private readonly busiest: boolean;

  /** `workers` must be sorted by id (the round's worker numbers). */
  constructor(
    workers: readonly WorkerSnapshot[],
    settings: Settings,
    workerResourceNames: readonly string[],
    private readonly cursors: WorkerCursors,
  ) {
    this.workers = workers;
    this.indexOf = new Map(this.workers.map((worker, i) => [worker.id, i]));
    this.healthy = Uint8Array.from(this.workers, (worker) => (worker.state === "healthy" ? 1 : 0));
    this.all = this.makePool(
      this.workers.map((_, i) => i),
      cursors.all,
    );
    const specs = settings.resources[WORKER_LEVEL] ?? {};
    this.weights = Float64Array.from(workerResourceNames, (name) => specs[name]?.weight ?? 0);
    this.busiest = settings.remoteWorkerSelector === "busiest";
  }

  private makePool(members: number[], cursorId: string | null | undefined): Pool {
    // A cursor whose worker left points at the next id after it, wrapping around.
    let cursor = 0;
    if (cursorId != null) {
      const at = members.findIndex((w) => (this.workers[w]?.id ?? "") >= cursorId);
      cursor = at < 0 ? 0 : at;
    }
    return { members: Int32Array.from(members), cursor };
  }

  private hostPool(hostname: string): Pool {
    let pool = this.byHost.get(hostname);
    if (!pool) {
      const members = this.workers.flatMap((worker, i) => (worker.hostname === hostname ? [i] : []));
      pool = this.makePool(members, this.cursors.byHost[hostname]);
      this.byHost.set(hostname, pool);
    }
    return pool;
  }

  /**
   * Finds a worker for a task needing `need` and takes its resources. `accepts` says which
   * workers the job's worker-level filter keeps (null: all); `host` is the required hostname.
   */
  select(book: ResourceBook, need: Float64Array, accepts: Uint8Array | null, host: string | null): WorkerChoice {
    const pool = host === null ? this.all : this.hostPool(host);
    const choice = this.busiest
      ? this.pickBusiest(pool, book, need, accepts)
      : this.pickRoundRobin(pool, book, need, accepts);
    if (choice.result === "ran") book.takeWorker(need, choice.worker);
    return choice;
  }

  /**
   * Records that a job already failed to find a worker in the all-workers pool: since free
   * worker resources only shrink during a round, it would fail again. Moves the cursor exactly
   * as the full walk would have (by one per miss), so the outcome matches Bistro's.
   */
  skipKnownMiss(times = 1): void {
    const size = this.all.members.length;
    if (!this.busiest && size > 0) this.all.cursor = (this.all.cursor + (times % size)) % size;
  }

  /** Whether misses move a cursor (roundrobin does; busiest has none). */
  get hasCursor(): boolean {
    return !this.busiest;
  }

  private pickRoundRobin(pool: Pool, book: ResourceBook, need: Float64Array, accepts: Uint8Array | null): WorkerChoice {
    const size = pool.members.length;
    if (size === 0) return { result: "stop" };
    const first = pool.cursor;
    let position = first;
    let sawHealthy = false;
    for (;;) {
      pool.cursor = (position + 1) % size;
      const worker = pool.members[position] as number;
      if (this.healthy[worker] === 1) {
        sawHealthy = true;
        if ((accepts === null || accepts[worker] === 1) && book.fitsWorker(need, worker)) {
          return { result: "ran", worker };
        }
      }
      position = pool.cursor;
      if (position === first) break;
    }
    // Bistro's walk ends by taking the first worker again, so the cursor moves on by one.
    pool.cursor = (first + 1) % size;
    return { result: sawHealthy ? "did_not_run" : "stop" };
  }

  private pickBusiest(pool: Pool, book: ResourceBook, need: Float64Array, accepts: Uint8Array | null): WorkerChoice {
    let best = -1;
    let bestWeight = Infinity;
    let sawHealthy = false;
    for (const worker of pool.members) {
      if (this.healthy[worker] !== 1) continue;
      sawHealthy = true;
      if ((accepts !== null && accepts[worker] !== 1) || !book.fitsWorker(need, worker)) continue;
      const weight = book.workerRemainingWeight(need, worker, this.weights);
      if (weight < bestWeight) {
        bestWeight = weight;
        best = worker;
      }
    }
    if (best >= 0) return { result: "ran", worker: best };
    return { result: sawHealthy ? "did_not_run" : "stop" };
  }

  /** Why `select` returned "stop" for this host (null: any host), for the plan's reasons. */
  stopMessage(host: string | null): string {
    const pool = host === null ? this.all : this.hostPool(host);
    const where = host === null ? "" : ` on host ${host}`;
    if (pool.members.length === 0) return `No workers were available${where}`;
    return `None of the workers${where} are healthy`;
  }

  /** The cursors to carry to the next round. */
  exportCursors(): WorkerCursors {
    const idAt = (pool: Pool) => this.workers[pool.members[pool.cursor] ?? -1]?.id;
    const byHost = { ...this.cursors.byHost };
    for (const [host, pool] of this.byHost) {
      const id = idAt(pool);
      if (id !== undefined) byHost[host] = id;
    }
    return { all: idAt(this.all) ?? this.cursors.all, byHost };
  }
}
