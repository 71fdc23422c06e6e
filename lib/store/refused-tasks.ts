// Tasks whose start the store refused outright (a non-retryable validation error, such as a
// node name over DynamoDB's key size limit). Such a task cannot have a task item of its own,
// so its error status lives in the scheduler state, bounded: the round plans it with that
// status (backoff, then failed), the API lists it, and no other task is held up by it.
import { createHash } from "node:crypto";
import type { TaskStatus } from "../model/status";

/** Refusals kept at most; the oldest go first (the scheduler state item must stay small). */
export const MAX_REFUSED_TASKS = 200;
/** Characters of a node name kept verbatim; longer names are matched by length and hash. */
export const REFUSED_NODE_PREFIX_CHARS = 256;
/** Characters of the store's reason kept. */
export const REFUSAL_REASON_CHARS = 500;

export interface RefusedTask {
  job: string;
  /** The node name, cut to REFUSED_NODE_PREFIX_CHARS characters. */
  nodePrefix: string;
  /** The full name's length in characters. */
  nodeLength: number;
  /** SHA-256 (hex) of the full node name. */
  nodeHash: string;
  /** The attempt the round tried to start. */
  attempt: string;
  reason: string;
  /** The status recorded for the refused attempt (error with backoff, failed once exhausted). */
  status: TaskStatus;
}

const hashOf = (node: string) => createHash("sha256").update(node).digest("hex");

export function refusedTask(job: string, node: string, attempt: string, reason: string, status: TaskStatus) {
  return {
    job,
    nodePrefix: node.slice(0, REFUSED_NODE_PREFIX_CHARS),
    nodeLength: node.length,
    nodeHash: hashOf(node),
    attempt,
    reason: reason.slice(0, REFUSAL_REASON_CHARS),
    status,
  } satisfies RefusedTask;
}

/** Whether `refusal` is about (job, node); hashes only names of the right length and prefix. */
export function refusalMatches(refusal: RefusedTask, job: string, node: string): boolean {
  return (
    refusal.job === job &&
    refusal.nodeLength === node.length &&
    node.startsWith(refusal.nodePrefix) &&
    hashOf(node) === refusal.nodeHash
  );
}
