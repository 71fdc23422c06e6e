// Checkpoints of the warm task state (ADR 0003, step 3): a cold round process loads the last one
// and applies the change entries logged since, instead of reading one item per task. A checkpoint
// is the warm state exactly as of its change sequence, gzipped: the walked items whole, the done
// tasks as columns per job. It is one S3 object, rewritten by a round every few hours (entries
// live a day, so the ones a checkpoint needs still exist). Any writer's checkpoint is exact for its
// own sequence, so a late or concurrent writer only makes the next cold start apply more entries.
import { gunzipSync, gzipSync } from "node:zlib";
import type { S3Client } from "@aws-sdk/client-s3";
import type { TaskItem } from "../store/tasks";

/** Where checkpoints are kept; the round's role may read and write this key and no other. */
export interface CheckpointStore {
  /** The stored checkpoint, or undefined when there is none. */
  read(): Promise<Buffer | undefined>;
  write(body: Buffer): Promise<void>;
}

/** How often a round rewrites the checkpoint: well inside the age a cold start accepts (12 h). */
export const CHECKPOINT_EVERY_MS = 3 * 3600_000;
/** S3 key of the checkpoint, beside the task logs in the deployment's bucket. */
export const CHECKPOINT_KEY = "round-state/task-state.json.gz";

/** 2 added `retired`; a format-1 checkpoint (no retired jobs) still loads. */
const FORMAT = 2;
const READABLE_FORMATS = new Set([1, FORMAT]);

interface DoneColumns {
  node: string[];
  version: number[];
  bits: number[];
  timeSec: number[];
  backoffSec: number[];
  /** Absent values as null. */
  lastAttempt: (string | null)[];
  lastTokenHash: (string | null)[];
}

interface CheckpointDocument {
  format: number;
  sequence: number;
  readAtMs: number;
  /** Items not held as done, whole. */
  items: TaskItem[];
  /** Done tasks by job, as columns (most of a large deployment's tasks: names and numbers). */
  done: Record<string, DoneColumns>;
  /** Jobs not configured, of which only running items are held (absent in format 1: none). */
  retired?: string[];
}

export class CheckpointFormatError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CheckpointFormatError";
  }
}

/** What a checkpoint holds: a warm state (lib/round/task-cache.ts) exact as of `sequence`. */
export interface CheckpointContent {
  sequence: number;
  /** When `sequence` was read. */
  readAtMs: number;
  /** The items not held as done. */
  items: Iterable<TaskItem>;
  /** The done tasks that are not running (each `isCompactDone`). */
  done: Iterable<TaskItem>;
  /** Jobs of which only the running items are held. */
  retired: Iterable<string>;
}

/** A warm state as a checkpoint body. */
export function encodeCheckpoint(content: CheckpointContent): Buffer {
  const done: Record<string, DoneColumns> = {};
  for (const item of content.done) {
    const columns = (done[item.job] ??= {
      node: [],
      version: [],
      bits: [],
      timeSec: [],
      backoffSec: [],
      lastAttempt: [],
      lastTokenHash: [],
    });
    const status = item.status;
    if (!status) throw new Error(`A done task without a status: ${item.job} ${item.node}`);
    columns.node.push(item.node);
    columns.version.push(item.version);
    columns.bits.push(status.bits);
    columns.timeSec.push(status.timeSec);
    columns.backoffSec.push(status.backoffSec);
    columns.lastAttempt.push(item.lastAttempt ?? null);
    columns.lastTokenHash.push(item.lastTokenHash ?? null);
  }
  const document: CheckpointDocument = {
    format: FORMAT,
    sequence: content.sequence,
    readAtMs: content.readAtMs,
    items: [...content.items],
    done,
    retired: [...content.retired],
  };
  return gzipSync(JSON.stringify(document));
}

/** What a checkpoint holds: every held task item as of `sequence` (read at `readAtMs`). */
export interface DecodedCheckpoint {
  sequence: number;
  readAtMs: number;
  items: Iterable<TaskItem>;
  /** Jobs of which only the running items are held. */
  retired: string[];
}

/** A checkpoint body's content; CheckpointFormatError when it is not one this version reads. */
export function decodeCheckpoint(body: Buffer): DecodedCheckpoint {
  let document: CheckpointDocument;
  try {
    document = JSON.parse(gunzipSync(body).toString("utf8")) as CheckpointDocument;
  } catch (error) {
    throw new CheckpointFormatError("The checkpoint is not gzipped JSON", { cause: error });
  }
  if (!READABLE_FORMATS.has(document.format))
    throw new CheckpointFormatError(`Unknown checkpoint format ${String(document.format)}`);
  if (!Number.isInteger(document.sequence) || !Number.isFinite(document.readAtMs) || !Array.isArray(document.items)) {
    throw new CheckpointFormatError("The checkpoint has no sequence, read time or items");
  }
  const retired = document.retired ?? [];
  if (!Array.isArray(retired) || !retired.every((job) => typeof job === "string")) {
    throw new CheckpointFormatError("The checkpoint's retired jobs are not a list of names");
  }
  return { sequence: document.sequence, readAtMs: document.readAtMs, items: allItems(document), retired };
}

function* allItems(document: CheckpointDocument): Generator<TaskItem> {
  yield* document.items;
  for (const [job, c] of Object.entries(document.done)) {
    const n = c.node.length;
    for (const column of [c.version, c.bits, c.timeSec, c.backoffSec, c.lastAttempt, c.lastTokenHash]) {
      if (column.length !== n) throw new CheckpointFormatError(`The done columns of job ${job} differ in length`);
    }
    for (let i = 0; i < n; i++) {
      const lastAttempt = c.lastAttempt[i];
      const lastTokenHash = c.lastTokenHash[i];
      yield {
        job,
        node: c.node[i] as string,
        state: "done",
        version: c.version[i] as number,
        status: { bits: c.bits[i] as number, timeSec: c.timeSec[i] as number, backoffSec: c.backoffSec[i] as number },
        ...(lastAttempt === null || lastAttempt === undefined ? {} : { lastAttempt }),
        ...(lastTokenHash === null || lastTokenHash === undefined ? {} : { lastTokenHash }),
      };
    }
  }
}

/** A checkpoint store on one S3 object. */
export function s3CheckpointStore(s3: () => S3Client | Promise<S3Client>, bucket: string): CheckpointStore {
  return {
    async read() {
      const { GetObjectCommand, NoSuchKey } = await import("@aws-sdk/client-s3");
      try {
        const object = await (await s3()).send(new GetObjectCommand({ Bucket: bucket, Key: CHECKPOINT_KEY }));
        const bytes = await object.Body?.transformToByteArray();
        return bytes ? Buffer.from(bytes) : undefined;
      } catch (error) {
        if (error instanceof NoSuchKey) return undefined;
        throw error;
      }
    },
    async write(body) {
      const { PutObjectCommand } = await import("@aws-sdk/client-s3");
      await (
        await s3()
      ).send(
        new PutObjectCommand({ Bucket: bucket, Key: CHECKPOINT_KEY, Body: body, ContentType: "application/gzip" }),
      );
    },
  };
}

/** A checkpoint store in memory (tests, and a process that wants cold starts without S3). */
export function memoryCheckpointStore(): CheckpointStore & { body?: Buffer } {
  const store: CheckpointStore & { body?: Buffer } = {
    read: () => Promise.resolve(store.body),
    write: (body) => {
      store.body = body;
      return Promise.resolve();
    },
  };
  return store;
}
