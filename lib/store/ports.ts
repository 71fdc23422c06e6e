// The store as ports (ADR 0007): what the scheduler, the API and the worker control plane ask of
// their state, with no word of DynamoDB. Adapters: lib/store/dynamo-store.ts (the real table)
// and lib/store/memory-store.ts (in memory, same semantics); test/contract/store-contract.ts is
// the one suite both must pass. Failures are domain errors (lib/store/errors.ts): a lost lease
// is LeaseLostError, a lost optimistic race ConflictError, an unknown caller NotFoundError;
// no SDK exception crosses a port.
import type { NodeSpec } from "../model/tree";
import type { RunningList, WorkerRecord } from "../model/worker";
import type { EncodedNodes } from "../nodes/codec";
import type { StoredConfig } from "./config-store";
import type { Lease } from "./lease";
import type { NodeSetHead, NodeSetWrite } from "./node-sets";
import type { SchedulerState } from "./scheduler-state";
import type {
  applyFinishes,
  commitStarts,
  getTasks,
  listTaskPage,
  readJobsWithTasks,
  readJobTasks,
  readTasks,
} from "./tasks";

/** The scheduler lease: one round commits at a time; every takeover raises the fencing epoch. */
export interface LeasePort {
  /** Renews `previous` (same owner and epoch) or takes over a missing or expired lease; null when held by another. */
  acquire(owner: string, nowMs: number, ttlMs: number, previous?: Lease): Promise<Lease | null>;
  /** Asks for another round (a poke); never lost, even while a round holds the lease. */
  markRoundWanted(): Promise<void>;
  /** Clears the wanted mark; LeaseLostError when `lease` is no longer held. */
  clearRoundWanted(lease: Lease): Promise<void>;
  /** Ends the lease unless a round was wanted since it was cleared; false (lease kept, or lost) otherwise. */
  releaseUnlessWanted(lease: Lease): Promise<boolean>;
  /** Ends the lease early; a no-op when it was lost. */
  release(lease: Lease): Promise<void>;
  /** Remembers the wake-up a round scheduled, if `lease` still holds; false otherwise. */
  recordWake(lease: Lease, wakeAtMs: number): Promise<boolean>;
}

/** Versioned config documents; a write names the version it replaces (optimistic concurrency). */
export interface ConfigPort {
  currentVersion(): Promise<number | null>;
  /** The versions still readable, oldest first. */
  listVersions(): Promise<{ version: number; updatedAtMs: number }[]>;
  /** A version (the current one by default); null when there is no such version. */
  get(version?: number): Promise<StoredConfig | null>;
  /** Stores the next version if the current one is `expectedVersion` (null: none yet); ConflictError otherwise. */
  put(document: Record<string, unknown>, expectedVersion: number | null, nowMs: number): Promise<number>;
}

/** Worker registrations; an id changes hands only from an instance that is gone. */
export interface WorkersPort {
  /** Registers; ConflictError while a live instance holds the id. Returns the replaced record, if any. */
  register(record: WorkerRecord, staleBeforeMs: number): Promise<WorkerRecord | undefined>;
  /** NotFoundError when this instance is not (or no longer) registered with that secret. */
  heartbeat(
    id: string,
    instanceId: string,
    secretHash: string,
    nowMs: number,
    running?: RunningList,
  ): Promise<WorkerRecord>;
  /** Marks an instance lost once; false when it was replaced or already marked. */
  markLost(id: string, instanceId: string, nowMs: number): Promise<boolean>;
  get(id: string): Promise<WorkerRecord | undefined>;
  list(): Promise<WorkerRecord[]>;
}

/** Stored node sets: versioned, content-addressed (an equal write changes nothing). */
export interface NodeSetsPort {
  readHead(name: string): Promise<NodeSetHead | null>;
  /** `expectedVersion`: null = none stored, undefined = whatever is stored; ConflictError on a lost race. */
  write(
    name: string,
    nodes: readonly NodeSpec[] | EncodedNodes,
    nowMs: number,
    expectedVersion?: number | null,
  ): Promise<NodeSetWrite>;
  read(name: string): Promise<{ head: NodeSetHead; nodes: NodeSpec[] } | null>;
  readBody(name: string): Promise<{ head: NodeSetHead; body: Buffer } | null>;
}

/** What a round carries to the next, and the change sequence (ADR 0003). */
export interface SchedulerStatePort {
  read(): Promise<SchedulerState>;
  /** Fenced: LeaseLostError once `lease` was taken over. */
  write(lease: Lease, state: SchedulerState): Promise<void>;
  /** The change sequence (0 before the first change). */
  readChangeSequence(): Promise<number>;
  bumpChangeSequence(): Promise<void>;
}

type WithoutContext<F> = F extends (ctx: never, ...args: infer A) => infer R ? (...args: A) => R : never;

/**
 * Task items and their resource counters (lib/store/tasks.ts). Declared here so the ports are
 * complete; its adapters come with the split of lib/store/tasks.ts by operation.
 */
export interface TasksPort {
  readJobsWithTasks: WithoutContext<typeof readJobsWithTasks>;
  readJobTasks: WithoutContext<typeof readJobTasks>;
  readTasks: WithoutContext<typeof readTasks>;
  getTasks: WithoutContext<typeof getTasks>;
  commitStarts: WithoutContext<typeof commitStarts>;
  applyFinishes: WithoutContext<typeof applyFinishes>;
  listTaskPage: WithoutContext<typeof listTaskPage>;
}

/** Every port but tasks, from one adapter (they share the lease that fences writes). */
export interface StorePorts {
  lease: LeasePort;
  config: ConfigPort;
  workers: WorkersPort;
  nodeSets: NodeSetsPort;
  schedulerState: SchedulerStatePort;
}
