// The warm state's done tasks, held compactly (ADR 0003). A done task that is not running matters
// to a round only as "done on node X" (dependents may run, it is not started again), and most of
// a large deployment's task items are such. Held as JS objects, a million of them cost several
// hundred MB and every round walked them all; here each is a slot in typed columns per job (its
// node name, version, status numbers, last attempt and token hash), and a round gets per job one
// byte per tree node saying which are done, kept up to date as tasks enter and leave the set.
import { StatusBits, type TaskStatus } from "../model/status";
import type { NodeTree } from "../model/tree";
import { TASK_DONE } from "../scheduler/task-index";
import type { TaskItem } from "../store/tasks";

/** Whether `item` is held compactly: done, not running, with nothing but the plain status fields. */
export function isCompactDone(item: TaskItem): boolean {
  const status = item.status;
  return (
    item.state === "done" &&
    item.running === undefined &&
    status !== undefined &&
    (status.bits & StatusBits.DONE) !== 0 &&
    status.savedBackoffSec === undefined &&
    status.data === undefined
  );
}

const INITIAL_SLOTS = 64;
const HASH_BYTES = 32;
/** Attempt ids as rounds make them (`r<round>.<index>`, lib/round/round-orders.ts), stored as two numbers. */
const ROUND_ATTEMPT = /^r([1-9]\d{0,8}|0)\.([1-9]\d{0,8}|0)$/;

/**
 * One job's done tasks: a slot per task, free slots reused. Numbers live in typed columns; the
 * attempt id and token hash too when they have the usual shapes (a round's attempt id, a SHA-256
 * in base64url), so a million tasks are a million node-name strings and little else to the GC.
 */
class JobDone {
  /** Node name -> slot. */
  readonly slotOf = new Map<string, number>();
  private version = new Int32Array(INITIAL_SLOTS);
  private bits = new Int32Array(INITIAL_SLOTS);
  private timeSec = new Float64Array(INITIAL_SLOTS);
  private backoffSec = new Float64Array(INITIAL_SLOTS);
  /** `r<round>.<index>`: round and index; round -1: see `otherAttempts` (absent there: none). */
  private attemptRound = new Int32Array(INITIAL_SLOTS);
  private attemptIndex = new Int32Array(INITIAL_SLOTS);
  private hashes = new Uint8Array(INITIAL_SLOTS * HASH_BYTES);
  /** 1: the hash is in `hashes`; 0: see `otherHashes` (absent there: none). */
  private hasHash = new Uint8Array(INITIAL_SLOTS);
  private readonly otherAttempts = new Map<number, string>();
  private readonly otherHashes = new Map<number, string>();
  private readonly free: number[] = [];
  private slots = 0;
  /** One byte per node of `tree`: TASK_DONE where this job is done (the tree's first copy of a name). */
  private codes: Uint8Array | null = null;
  private tree: NodeTree | null = null;

  constructor(readonly job: string) {}

  get size(): number {
    return this.slotOf.size;
  }

  add(item: TaskItem): void {
    let slot = this.slotOf.get(item.node);
    if (slot === undefined) {
      slot = this.free.pop() ?? this.slots++;
      if (slot >= this.version.length) this.grow(slot + 1);
      this.slotOf.set(item.node, slot);
      this.mark(item.node, TASK_DONE);
    }
    const status = item.status as TaskStatus;
    this.version[slot] = item.version;
    this.bits[slot] = status.bits;
    this.timeSec[slot] = status.timeSec;
    this.backoffSec[slot] = status.backoffSec;
    this.setAttempt(slot, item.lastAttempt);
    this.setHash(slot, item.lastTokenHash);
  }

  /** The held task as a task item, or undefined. */
  get(node: string): TaskItem | undefined {
    const slot = this.slotOf.get(node);
    return slot === undefined ? undefined : this.item(node, slot);
  }

  delete(node: string): void {
    const slot = this.slotOf.get(node);
    if (slot === undefined) return;
    this.slotOf.delete(node);
    this.otherAttempts.delete(slot);
    this.otherHashes.delete(slot);
    this.free.push(slot);
    this.mark(node, 0);
  }

  *items(): Generator<TaskItem> {
    for (const [node, slot] of this.slotOf) yield this.item(node, slot);
  }

  /** The done codes over `tree`, rebuilt when the tree is a new one. */
  codesFor(tree: NodeTree): Uint8Array {
    if (this.tree !== tree || this.codes === null) {
      this.tree = tree;
      this.codes = new Uint8Array(tree.size);
      for (const node of this.slotOf.keys()) this.mark(node, TASK_DONE);
    }
    return this.codes;
  }

  private mark(node: string, code: number): void {
    if (this.tree === null || this.codes === null) return;
    const index = this.tree.indexOf.get(node);
    if (index !== undefined) this.codes[index] = code;
  }

  private setAttempt(slot: number, attempt: string | undefined): void {
    this.otherAttempts.delete(slot);
    const match = attempt === undefined ? null : ROUND_ATTEMPT.exec(attempt);
    if (match) {
      this.attemptRound[slot] = Number(match[1]);
      this.attemptIndex[slot] = Number(match[2]);
      return;
    }
    this.attemptRound[slot] = -1;
    if (attempt !== undefined) this.otherAttempts.set(slot, attempt);
  }

  private attempt(slot: number): string | undefined {
    const round = this.attemptRound[slot] as number;
    return round < 0 ? this.otherAttempts.get(slot) : `r${round}.${this.attemptIndex[slot]}`;
  }

  private setHash(slot: number, hash: string | undefined): void {
    this.otherHashes.delete(slot);
    this.hasHash[slot] = 0;
    if (hash === undefined) return;
    const bytes = Buffer.from(hash, "base64url");
    if (bytes.length === HASH_BYTES && bytes.toString("base64url") === hash) {
      this.hashes.set(bytes, slot * HASH_BYTES);
      this.hasHash[slot] = 1;
    } else {
      this.otherHashes.set(slot, hash);
    }
  }

  private hash(slot: number): string | undefined {
    if (this.hasHash[slot] !== 1) return this.otherHashes.get(slot);
    const start = slot * HASH_BYTES;
    return Buffer.from(this.hashes.buffer, this.hashes.byteOffset + start, HASH_BYTES).toString("base64url");
  }

  private item(node: string, slot: number): TaskItem {
    const lastAttempt = this.attempt(slot);
    const lastTokenHash = this.hash(slot);
    return {
      job: this.job,
      node,
      state: "done",
      version: this.version[slot] as number,
      status: {
        bits: this.bits[slot] as number,
        timeSec: this.timeSec[slot] as number,
        backoffSec: this.backoffSec[slot] as number,
      },
      ...(lastAttempt === undefined ? {} : { lastAttempt }),
      ...(lastTokenHash === undefined ? {} : { lastTokenHash }),
    };
  }

  private grow(min: number): void {
    const size = Math.max(min, this.version.length * 2);
    const grown = <T extends Int32Array | Float64Array | Uint8Array>(from: T, to: T): T => {
      to.set(from);
      return to;
    };
    this.version = grown(this.version, new Int32Array(size));
    this.bits = grown(this.bits, new Int32Array(size));
    this.timeSec = grown(this.timeSec, new Float64Array(size));
    this.backoffSec = grown(this.backoffSec, new Float64Array(size));
    this.attemptRound = grown(this.attemptRound, new Int32Array(size));
    this.attemptIndex = grown(this.attemptIndex, new Int32Array(size));
    this.hashes = grown(this.hashes, new Uint8Array(size * HASH_BYTES));
    this.hasHash = grown(this.hasHash, new Uint8Array(size));
  }
}

/** Every job's done tasks (those `isCompactDone` accepts). */
export class DoneTasks {
  private readonly jobs = new Map<string, JobDone>();

  get size(): number {
    let size = 0;
    for (const job of this.jobs.values()) size += job.size;
    return size;
  }

  /** Holds `item`, which must pass `isCompactDone`. */
  add(item: TaskItem): void {
    let job = this.jobs.get(item.job);
    if (!job) this.jobs.set(item.job, (job = new JobDone(item.job)));
    job.add(item);
  }

  get(job: string, node: string): TaskItem | undefined {
    return this.jobs.get(job)?.get(node);
  }

  has(job: string, node: string): boolean {
    return this.jobs.get(job)?.slotOf.has(node) ?? false;
  }

  delete(job: string, node: string): void {
    this.jobs.get(job)?.delete(node);
  }

  *items(): Generator<TaskItem> {
    for (const job of this.jobs.values()) yield* job.items();
  }

  /** The jobs with done tasks held. */
  jobNames(): IterableIterator<string> {
    return this.jobs.keys();
  }

  /** Drops every done task of `job`. */
  deleteJob(job: string): void {
    this.jobs.delete(job);
  }

  /**
   * Per job, one byte per node of `tree`: TASK_DONE where the job is done on that node's name
   * (its first copy, for a replicated name), 0 elsewhere. Owned by this set: read, never write.
   */
  codesFor(tree: NodeTree): Map<string, Uint8Array> {
    const codes = new Map<string, Uint8Array>();
    for (const [name, job] of this.jobs) if (job.size > 0) codes.set(name, job.codesFor(tree));
    return codes;
  }
}
