// Versioned, atomic storage of the Bistro config document. A write stores the document as
// immutable parts under a fresh write id (so each item stays far below DynamoDB's 400 KB),
// then one conditional update of the HEAD item points the current version at them. Readers
// see the old version or the new one, never a mix; a writer that raced another gets
// ConflictError and leaves the winner untouched. HEAD keeps the last few versions.
import { randomUUID } from "node:crypto";
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { GetCommand, UpdateCommand, paginateQuery } from "@aws-sdk/lib-dynamodb";
import { MAX_CONFIG_ENTRY_BYTES } from "../config/limits";
import { batchWrite } from "./batch";
import type { StoreContext } from "./context";
import { ConflictError } from "./errors";
import { CONFIG_HEAD, configPartKey, configPartsPk } from "./keys";

/** A stored Bistro config document (the JSON object users write) and its version. */
export interface StoredConfig {
  version: number;
  document: Record<string, unknown>;
  updatedAtMs: number;
}

interface VersionRef {
  version: number;
  writeId: string;
  parts: number;
  updatedAtMs: number;
}

/**
 * Parts are kept well below the 400 KB item limit (JSON text is stored as a string); the config
 * parser refuses any entry larger than this, so one entry always fits a part.
 */
const PART_BYTES = MAX_CONFIG_ENTRY_BYTES;
/** Versions kept readable (the current one included). */
export const VERSIONS_KEPT = 5;

/** The refusal of a write whose expected version is not the current one. */
export function configConflict(expected: number | null, current: number | null): ConflictError {
  return new ConflictError(
    `The config changed while this one was being stored (expected version ${expected ?? "none"}, ` +
      `current ${current ?? "none"}); read it again and retry.`,
  );
}

/** The document cut into parts that each fit an item; RangeError for an entry too large for any. */
export function splitDocument(document: Record<string, unknown>): string[] {
  const parts: string[] = [];
  let current: Record<string, unknown> = {};
  let currentBytes = 2;
  for (const [key, value] of Object.entries(document)) {
    const entryBytes = Buffer.byteLength(JSON.stringify({ [key]: value }));
    if (entryBytes > PART_BYTES) {
      throw new RangeError(`Config entry ${key} is ${entryBytes} bytes; at most ${PART_BYTES} fit in one item.`);
    }
    if (currentBytes + entryBytes > PART_BYTES && Object.keys(current).length > 0) {
      parts.push(JSON.stringify(current));
      current = {};
      currentBytes = 2;
    }
    current[key] = value;
    currentBytes += entryBytes;
  }
  parts.push(JSON.stringify(current));
  return parts;
}

async function deleteParts(ctx: StoreContext, writeId: string, parts: number): Promise<void> {
  await batchWrite(
    ctx,
    Array.from({ length: parts }, (_, n) => ({ DeleteRequest: { Key: configPartKey(writeId, n) } })),
  );
}

async function readHead(ctx: StoreContext): Promise<VersionRef[]> {
  const head = await ctx.doc.send(new GetCommand({ TableName: ctx.tableName, Key: CONFIG_HEAD, ConsistentRead: true }));
  return (head.Item?.history as VersionRef[] | undefined) ?? [];
}

export async function getCurrentConfigVersion(ctx: StoreContext): Promise<number | null> {
  return (await readHead(ctx)).at(-1)?.version ?? null;
}

/** The versions that can still be read, oldest first. */
export async function listConfigVersions(ctx: StoreContext): Promise<{ version: number; updatedAtMs: number }[]> {
  return (await readHead(ctx)).map(({ version, updatedAtMs }) => ({ version, updatedAtMs }));
}

/** Reads a version (the current one by default); null when there is no such version. */
export async function getConfig(ctx: StoreContext, version?: number): Promise<StoredConfig | null> {
  const history = await readHead(ctx);
  const ref = version === undefined ? history.at(-1) : history.find((v) => v.version === version);
  if (!ref) return null;
  const document: Record<string, unknown> = {};
  let seen = 0;
  const pages = paginateQuery(
    { client: ctx.doc },
    {
      TableName: ctx.tableName,
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": configPartsPk(ref.writeId) },
      ConsistentRead: true,
    },
  );
  for await (const page of pages) {
    for (const item of page.Items ?? []) {
      seen++;
      Object.assign(document, JSON.parse(String(item.body)) as Record<string, unknown>);
    }
  }
  // Parts of a version older than the kept ones may have been removed while we read.
  if (seen !== ref.parts) return null;
  return { version: ref.version, document, updatedAtMs: ref.updatedAtMs };
}

/**
 * Stores `document` as the next version if the current version is still `expectedVersion`
 * (null: no config stored yet), and returns the new version. Validate before calling: the
 * store keeps what it is given.
 */
export async function putConfig(
  ctx: StoreContext,
  document: Record<string, unknown>,
  expectedVersion: number | null,
  nowMs: number,
): Promise<number> {
  const history = await readHead(ctx);
  const current = history.at(-1)?.version ?? null;
  const conflict = () => configConflict(expectedVersion, current);
  if (current !== expectedVersion) throw conflict();
  const version = (expectedVersion ?? 0) + 1;
  const writeId = randomUUID();
  const parts = splitDocument(document);
  await batchWrite(
    ctx,
    parts.map((body, n) => ({ PutRequest: { Item: { ...configPartKey(writeId, n), body } } })),
  );
  const ref: VersionRef = { version, writeId, parts: parts.length, updatedAtMs: nowMs };
  const kept = [...history, ref].slice(-VERSIONS_KEPT);
  try {
    await ctx.doc.send(
      new UpdateCommand({
        TableName: ctx.tableName,
        Key: CONFIG_HEAD,
        UpdateExpression: "SET #version = :version, #history = :history",
        ConditionExpression: expectedVersion === null ? "attribute_not_exists(pk)" : "#version = :expected",
        ExpressionAttributeNames: { "#version": "version", "#history": "history" },
        ExpressionAttributeValues: {
          ":version": version,
          ":history": kept,
          ...(expectedVersion === null ? {} : { ":expected": expectedVersion }),
        },
      }),
    );
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) {
      await deleteParts(ctx, writeId, parts.length);
      throw conflict();
    }
    throw error;
  }
  for (const dropped of history.slice(0, history.length + 1 - VERSIONS_KEPT)) {
    await deleteParts(ctx, dropped.writeId, dropped.parts);
  }
  return version;
}
