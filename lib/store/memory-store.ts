// The in-memory adapter of the store ports (lib/store/ports.ts): the same semantics as the
// DynamoDB adapter (fencing epochs, versions, conditional writes, the same domain errors), held
// in plain maps, for unit tests and for anything that wants a store without a table. It passes
// the same contract suite (test/contract/store-contract.ts). Values are copied in and out, as a
// real store would, so callers never share objects with it. Task items, counters and the change
// log are in lib/store/memory-tasks.ts.
import { decodeNodes, encodeNodes, type EncodedNodes } from "../nodes/codec";
import type { WorkerRecord } from "../model/worker";
import type { NodeSpec } from "../model/tree";
import { configConflict, splitDocument, VERSIONS_KEPT, type StoredConfig } from "./config-store";
import { LeaseLostError } from "./errors";
import type { Lease } from "./lease";
import { MemoryChangeLog, MemoryTasks } from "./memory-tasks";
import { NODE_SET_PART_BYTES, nodeSetConflict, type NodeSetHead } from "./node-sets";
import type { ConfigPort, LeasePort, NodeSetsPort, SchedulerStatePort, StorePorts, WorkersPort } from "./ports";
import { EMPTY_SCHEDULER_STATE, type SchedulerState } from "./scheduler-state";
import { workerIdHeld, workerNotRegistered } from "./workers";

interface LeaseItem {
  owner?: string;
  epoch?: number;
  round?: number;
  expiresAtMs?: number;
  wakeAtMs?: number;
  dirty?: boolean;
}

const copy = <T>(value: T): T => structuredClone(value);

class MemoryLease implements LeasePort {
  private item: LeaseItem | null = null;

  /** True while `lease` is the stored holder (the fence every fenced write checks). */
  holds(lease: Lease): boolean {
    return this.item?.owner === lease.owner && this.item.epoch === lease.epoch;
  }

  private snapshot(item: LeaseItem): Lease {
    return {
      owner: String(item.owner),
      epoch: Number(item.epoch),
      round: Number(item.round),
      expiresAtMs: Number(item.expiresAtMs),
      ...(item.wakeAtMs === undefined ? {} : { wakeAtMs: item.wakeAtMs }),
    };
  }

  acquire(owner: string, nowMs: number, ttlMs: number, previous?: Lease): Promise<Lease | null> {
    const item = this.item;
    if (previous && item?.owner === owner && item.epoch === previous.epoch) {
      item.expiresAtMs = nowMs + ttlMs;
      item.round = (item.round ?? 0) + 1;
      return Promise.resolve(this.snapshot(item));
    }
    if (item && item.expiresAtMs !== undefined && item.expiresAtMs >= nowMs) return Promise.resolve(null);
    const next: LeaseItem = {
      ...item,
      owner,
      expiresAtMs: nowMs + ttlMs,
      epoch: (item?.epoch ?? 0) + 1,
      round: (item?.round ?? 0) + 1,
    };
    this.item = next;
    return Promise.resolve(this.snapshot(next));
  }

  markRoundWanted(): Promise<void> {
    this.item = { ...this.item, dirty: true };
    return Promise.resolve();
  }

  clearRoundWanted(lease: Lease): Promise<void> {
    if (!this.item || !this.holds(lease)) {
      return Promise.reject(new LeaseLostError("The scheduler lease was taken over; the wanted mark was not cleared."));
    }
    this.item.dirty = false;
    return Promise.resolve();
  }

  releaseUnlessWanted(lease: Lease): Promise<boolean> {
    if (!this.item || !this.holds(lease) || this.item.dirty === true) return Promise.resolve(false);
    this.item.expiresAtMs = 0;
    return Promise.resolve(true);
  }

  release(lease: Lease): Promise<void> {
    if (this.item && this.holds(lease)) this.item.expiresAtMs = 0;
    return Promise.resolve();
  }

  recordWake(lease: Lease, wakeAtMs: number): Promise<boolean> {
    if (!this.item || !this.holds(lease)) return Promise.resolve(false);
    this.item.wakeAtMs = wakeAtMs;
    return Promise.resolve(true);
  }
}

class MemoryConfig implements ConfigPort {
  private history: StoredConfig[] = [];

  currentVersion(): Promise<number | null> {
    return Promise.resolve(this.history.at(-1)?.version ?? null);
  }

  listVersions(): Promise<{ version: number; updatedAtMs: number }[]> {
    return Promise.resolve(this.history.map(({ version, updatedAtMs }) => ({ version, updatedAtMs })));
  }

  get(version?: number): Promise<StoredConfig | null> {
    const found = version === undefined ? this.history.at(-1) : this.history.find((v) => v.version === version);
    return Promise.resolve(found ? copy(found) : null);
  }

  put(document: Record<string, unknown>, expectedVersion: number | null, nowMs: number): Promise<number> {
    const current = this.history.at(-1)?.version ?? null;
    if (current !== expectedVersion) return Promise.reject(configConflict(expectedVersion, current));
    try {
      splitDocument(document); // the same per-entry size limit as the table
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const version = (expectedVersion ?? 0) + 1;
    this.history = [...this.history, { version, document: copy(document), updatedAtMs: nowMs }].slice(-VERSIONS_KEPT);
    return Promise.resolve(version);
  }
}

class MemoryWorkers implements WorkersPort {
  private readonly records = new Map<string, WorkerRecord>();

  register(record: WorkerRecord, staleBeforeMs: number): Promise<WorkerRecord | undefined> {
    const previous = this.records.get(record.id);
    const free =
      !previous ||
      previous.lostAtMs !== undefined ||
      previous.heartbeatAtMs < staleBeforeMs ||
      (previous.instanceId === record.instanceId && previous.principal === record.principal);
    if (!free) return Promise.reject(workerIdHeld(record.id));
    this.records.set(record.id, copy(record));
    return Promise.resolve(previous && previous.instanceId !== record.instanceId ? previous : undefined);
  }

  heartbeat(
    ...[id, instanceId, secretHash, nowMs, running]: Parameters<WorkersPort["heartbeat"]>
  ): Promise<WorkerRecord> {
    const record = this.records.get(id);
    if (
      record?.instanceId !== instanceId ||
      record.secretHash === undefined ||
      record.secretHash !== secretHash ||
      record.lostAtMs !== undefined
    ) {
      return Promise.reject(workerNotRegistered(id, instanceId));
    }
    record.heartbeatAtMs = nowMs;
    if (running) {
      record.runningAttempts = [...running.attempts];
      record.runningListedAtMs = running.listedAtMs;
    } else {
      delete record.runningAttempts;
      delete record.runningListedAtMs;
    }
    return Promise.resolve(copy(record));
  }

  markLost(id: string, instanceId: string, nowMs: number): Promise<boolean> {
    const record = this.records.get(id);
    if (record?.instanceId !== instanceId || record.lostAtMs !== undefined) return Promise.resolve(false);
    record.lostAtMs = nowMs;
    return Promise.resolve(true);
  }

  get(id: string): Promise<WorkerRecord | undefined> {
    const record = this.records.get(id);
    return Promise.resolve(record && copy(record));
  }

  list(): Promise<WorkerRecord[]> {
    // Ordered by id, as the table's sort key orders them.
    const ids = [...this.records.keys()].sort();
    return Promise.resolve(ids.map((id) => copy(this.records.get(id) as WorkerRecord)));
  }
}

class MemoryNodeSets implements NodeSetsPort {
  private readonly sets = new Map<string, { head: NodeSetHead; body: Buffer }>();

  readHead(name: string): Promise<NodeSetHead | null> {
    const set = this.sets.get(name);
    return Promise.resolve(set ? { ...set.head } : null);
  }

  write(name: string, nodes: readonly NodeSpec[] | EncodedNodes, nowMs: number, expectedVersion?: number | null) {
    const encoded = Array.isArray(nodes) ? encodeNodes(nodes) : (nodes as EncodedNodes);
    const current = this.sets.get(name)?.head;
    if (current?.hash === encoded.hash)
      return Promise.resolve({ head: { ...current }, changed: false, bytesWritten: 0 });
    if (expectedVersion !== undefined && (current?.version ?? null) !== expectedVersion) {
      return Promise.reject(nodeSetConflict(name, current?.version ?? null, expectedVersion));
    }
    const body = Buffer.from(encoded.body);
    const parts = Math.max(1, Math.ceil(body.length / NODE_SET_PART_BYTES));
    const head: NodeSetHead = {
      version: (current?.version ?? 0) + 1,
      hash: encoded.hash,
      count: encoded.count,
      bytes: body.length,
      parts,
      updatedAtMs: nowMs,
    };
    this.sets.set(name, { head, body });
    // The same accounting as the table: each part's bytes plus its key, and the head.
    return Promise.resolve({ head: { ...head }, changed: true, bytesWritten: body.length + 60 * parts + 200 });
  }

  read(name: string): Promise<{ head: NodeSetHead; nodes: NodeSpec[] } | null> {
    const set = this.sets.get(name);
    return Promise.resolve(set ? { head: { ...set.head }, nodes: decodeNodes(set.body) } : null);
  }

  readBody(name: string): Promise<{ head: NodeSetHead; body: Buffer } | null> {
    const set = this.sets.get(name);
    return Promise.resolve(set ? { head: { ...set.head }, body: Buffer.from(set.body) } : null);
  }
}

class MemorySchedulerState implements SchedulerStatePort {
  private state: SchedulerState | undefined;

  constructor(
    private readonly lease: MemoryLease,
    private readonly log: MemoryChangeLog,
  ) {}

  read(): Promise<SchedulerState> {
    return Promise.resolve(copy({ ...EMPTY_SCHEDULER_STATE, ...this.state }));
  }

  write(lease: Lease, state: SchedulerState): Promise<void> {
    if (!this.lease.holds(lease)) {
      return Promise.reject(
        new LeaseLostError("The scheduler lease was taken over; the round's state was not written."),
      );
    }
    this.state = copy(state);
    return Promise.resolve();
  }

  readChangeSequence(): Promise<number> {
    return Promise.resolve(this.log.sequence);
  }

  bumpChangeSequence(): Promise<void> {
    this.log.append([]);
    return Promise.resolve();
  }
}

/** A fresh, empty in-memory store. */
export function memoryStorePorts(): StorePorts {
  const lease = new MemoryLease();
  const log = new MemoryChangeLog();
  return {
    lease,
    tasks: new MemoryTasks(lease, log),
    config: new MemoryConfig(),
    workers: new MemoryWorkers(),
    nodeSets: new MemoryNodeSets(),
    schedulerState: new MemorySchedulerState(lease, log),
  };
}
