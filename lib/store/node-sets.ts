// Stored node sets (ADR 0006): the tree a refresh produced, and each API-pushed source, under
// one versioned layout in the state table. A set is the gzipped binary stream of
// lib/nodes/codec.ts cut into binary parts; the head item names the current version, its
// content hash and its part count. A write of the same content (same hash) writes nothing. A
// new version's parts are written first, then the head moves to them under a condition on
// the version it replaces (optimistic concurrency, HTTP If-Match), then the old parts go.
// A reader takes the head, then the parts of that version, and reads again if a writer
// deleted them meanwhile.
//
//   pk               sk                      attributes
//   NODESET#<name>   HEAD                    version, hash, count, bytes, parts, updatedAtMs
//   NODESET#<name>   PART#<version>#<n>      body (binary, <= 350 KB)
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { GetCommand, PutCommand, paginateQuery } from "@aws-sdk/lib-dynamodb";
import { decodeNodes, encodeNodes, type EncodedNodes } from "../nodes/codec";
import type { NodeSpec } from "../model/tree";
import { retryUntil, type RetryPolicy } from "../retry";
import { batchWrite } from "./batch";
import type { StoreContext } from "./context";
import { ConflictError } from "./errors";
import { nodeSetPk } from "./keys";

export interface NodeSetHead {
  /** 1, 2, ...: raised by every write that changes the content. */
  version: number;
  /** sha256 of the uncompressed column document. */
  hash: string;
  count: number;
  /** Compressed size of the parts. */
  bytes: number;
  parts: number;
  /** When this version was written (ms since the epoch). */
  updatedAtMs: number;
}

export interface NodeSetWrite {
  head: NodeSetHead;
  /** False when the stored set already had this content: nothing was written. */
  changed: boolean;
  /** Bytes of items written (parts and head); 0 when unchanged. */
  bytesWritten: number;
}

/** Each part stays well below DynamoDB's 400 KB item limit. */
export const NODE_SET_PART_BYTES = 350_000;
const READ_RETRY: RetryPolicy = { attempts: 3, baseMs: 20, capMs: 200 };
const HEAD_SK = "HEAD";

const headKey = (name: string) => ({ pk: nodeSetPk(name), sk: HEAD_SK });
const partPrefix = (version: number) => `PART#${String(version).padStart(10, "0")}#`;
const partKey = (name: string, version: number, n: number) => ({
  pk: nodeSetPk(name),
  sk: `${partPrefix(version)}${String(n).padStart(6, "0")}`,
});

/** The refusal of a write whose expected version is not the stored one. */
export function nodeSetConflict(name: string, current: number | null, expected: number | null): ConflictError {
  return new ConflictError(
    `The nodes of ${name} are at version ${current ?? "none"}, not ${expected ?? "none"}; read them again and retry.`,
  );
}

export async function readNodeSetHead(ctx: StoreContext, name: string): Promise<NodeSetHead | null> {
  const result = await ctx.doc.send(
    new GetCommand({ TableName: ctx.tableName, Key: headKey(name), ConsistentRead: true }),
  );
  const item = result.Item as (NodeSetHead & { pk: string }) | undefined;
  if (!item) return null;
  const { version, hash, count, bytes, parts, updatedAtMs } = item;
  return { version, hash, count, bytes, parts, updatedAtMs };
}

/**
 * Stores `nodes` (specs, or a set already encoded) as the set `name`. `expectedVersion`: the version the caller read (null =
 * none stored; undefined = whatever is stored). Content equal to the stored set writes nothing
 * and succeeds whatever was expected, so a retried push is harmless. A lost race is a
 * ConflictError and leaves the stored set as the winner wrote it.
 */
export async function writeNodeSet(
  ctx: StoreContext,
  name: string,
  nodes: readonly NodeSpec[] | EncodedNodes,
  nowMs: number,
  expectedVersion?: number | null,
): Promise<NodeSetWrite> {
  const encoded = Array.isArray(nodes) ? encodeNodes(nodes) : (nodes as EncodedNodes);
  const current = await readNodeSetHead(ctx, name);
  if (current?.hash === encoded.hash) return { head: current, changed: false, bytesWritten: 0 };
  if (expectedVersion !== undefined && (current?.version ?? null) !== expectedVersion) {
    throw nodeSetConflict(name, current?.version ?? null, expectedVersion);
  }
  const version = (current?.version ?? 0) + 1;
  const body = encoded.body;
  const parts: Buffer[] = [];
  for (let at = 0; at < body.length || parts.length === 0; at += NODE_SET_PART_BYTES) {
    parts.push(body.subarray(at, at + NODE_SET_PART_BYTES));
  }
  let bytesWritten = 0;
  await batchWrite(
    ctx,
    parts.map((body, n) => {
      bytesWritten += body.length + 60;
      return { PutRequest: { Item: { ...partKey(name, version, n), body } } };
    }),
  );
  const head: NodeSetHead = {
    version,
    hash: encoded.hash,
    count: encoded.count,
    bytes: body.length,
    parts: parts.length,
    updatedAtMs: nowMs,
  };
  try {
    await ctx.doc.send(
      new PutCommand({
        TableName: ctx.tableName,
        Item: { ...headKey(name), ...head },
        ConditionExpression: current ? "version = :previous" : "attribute_not_exists(pk)",
        ...(current ? { ExpressionAttributeValues: { ":previous": current.version } } : {}),
      }),
    );
    bytesWritten += 200;
  } catch (error) {
    await deleteParts(ctx, name, version, parts.length);
    if (error instanceof ConditionalCheckFailedException) {
      throw new ConflictError(`The nodes of ${name} changed while being written; read them again and retry.`);
    }
    throw error;
  }
  if (current) await deleteParts(ctx, name, current.version, current.parts);
  return { head, changed: true, bytesWritten };
}

async function deleteParts(ctx: StoreContext, name: string, version: number, count: number): Promise<void> {
  await batchWrite(
    ctx,
    Array.from({ length: count }, (_, n) => ({ DeleteRequest: { Key: partKey(name, version, n) } })),
  );
}

/** The stored set `name` with its head; null when none is stored. */
export async function readNodeSet(
  ctx: StoreContext,
  name: string,
): Promise<{ head: NodeSetHead; nodes: NodeSpec[] } | null> {
  const set = await readNodeSetBody(ctx, name);
  return set && { head: set.head, nodes: decodeNodes(set.body) };
}

/** The stored set `name` still encoded (see lib/nodes/codec.ts), with its head; null when none is stored. */
export async function readNodeSetBody(
  ctx: StoreContext,
  name: string,
): Promise<{ head: NodeSetHead; body: Buffer } | null> {
  let result: { head: NodeSetHead; body: Buffer } | null = null;
  // A set replaced while we read it leaves parts missing: read the new one, after a short wait.
  const consistent = await retryUntil(async () => {
    const head = await readNodeSetHead(ctx, name);
    if (!head) return true;
    const bodies: Uint8Array[] = [];
    const pages = paginateQuery(
      { client: ctx.doc },
      {
        TableName: ctx.tableName,
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues: { ":pk": nodeSetPk(name), ":prefix": partPrefix(head.version) },
        ConsistentRead: true,
      },
    );
    for await (const page of pages) for (const item of page.Items ?? []) bodies.push(item.body as Uint8Array);
    if (bodies.length !== head.parts) return false;
    result = { head, body: Buffer.concat(bodies) };
    return true;
  }, READ_RETRY);
  if (consistent) return result;
  throw new ConflictError(`The nodes of ${name} kept changing while being read; try again.`);
}
