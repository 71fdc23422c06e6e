// Nodes pushed through `PUT /nodes/{source}`, stored per source in the state table so an
// `api`-style node source can read them. A push replaces the source's whole node list
// atomically for readers: parts of a new generation are written first, then the head item is
// pointed at them, then the old generation's parts are deleted. A reader checks that it found
// every part of the generation the head names (a concurrent push may have deleted them) and
// reads again if not.
//
//   pk              sk                        attributes
//   NODES#<source>  HEAD                      generation, parts, count, updatedAtMs
//   NODES#<source>  PART#<generation>#<n>     body (JSON array of nodes)
import { randomUUID } from "node:crypto";
import { GetCommand, PutCommand, paginateQuery } from "@aws-sdk/lib-dynamodb";
import type { NodeSpec } from "../model/tree";
import { batchWrite } from "../store/batch";
import type { StoreContext } from "../store/context";
import { ConflictError } from "../store/errors";
import { nodeSourcePk } from "../store/keys";

export interface PushedNodes {
  source: string;
  generation: string;
  updatedAtMs: number;
  nodes: NodeSpec[];
}

interface Head {
  generation: string;
  parts: number;
  count: number;
  updatedAtMs: number;
}

/** Each part stays well below DynamoDB's 400 KB item limit. */
const PART_BYTES = 300_000;
const READ_ATTEMPTS = 3;

const headKey = (source: string) => ({ pk: nodeSourcePk(source), sk: "HEAD" });
const partPrefix = (generation: string) => `PART#${generation}#`;
const partKey = (source: string, generation: string, n: number) => ({
  pk: nodeSourcePk(source),
  sk: `${partPrefix(generation)}${String(n).padStart(6, "0")}`,
});

function splitNodes(nodes: readonly NodeSpec[]): string[] {
  const parts: string[] = [];
  let current: string[] = [];
  let bytes = 2;
  for (const node of nodes) {
    const text = JSON.stringify(node);
    const size = Buffer.byteLength(text) + 1;
    if (current.length > 0 && bytes + size > PART_BYTES) {
      parts.push(`[${current.join(",")}]`);
      current = [];
      bytes = 2;
    }
    current.push(text);
    bytes += size;
  }
  parts.push(`[${current.join(",")}]`);
  return parts;
}

/** Replaces the nodes of `source`; returns the new generation. */
export async function writePushedNodes(
  ctx: StoreContext,
  source: string,
  nodes: readonly NodeSpec[],
  nowMs: number,
): Promise<Head> {
  const generation = randomUUID();
  const parts = splitNodes(nodes);
  await batchWrite(
    ctx,
    parts.map((body, n) => ({ PutRequest: { Item: { ...partKey(source, generation, n), body } } })),
  );
  const head: Head = { generation, parts: parts.length, count: nodes.length, updatedAtMs: nowMs };
  const replaced = await ctx.doc.send(
    new PutCommand({ TableName: ctx.tableName, Item: { ...headKey(source), ...head }, ReturnValues: "ALL_OLD" }),
  );
  const old = replaced.Attributes as Partial<Head> | undefined;
  if (old?.generation !== undefined && typeof old.parts === "number") {
    const oldGeneration = old.generation;
    await batchWrite(
      ctx,
      Array.from({ length: old.parts }, (_, n) => ({ DeleteRequest: { Key: partKey(source, oldGeneration, n) } })),
    );
  }
  return head;
}

/** The nodes last pushed for `source`; null when none were. */
export async function readPushedNodes(ctx: StoreContext, source: string): Promise<PushedNodes | null> {
  for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
    const result = await ctx.doc.send(
      new GetCommand({ TableName: ctx.tableName, Key: headKey(source), ConsistentRead: true }),
    );
    const head = result.Item as (Head & { pk: string }) | undefined;
    if (!head) return null;
    const bodies: string[] = [];
    const pages = paginateQuery(
      { client: ctx.doc },
      {
        TableName: ctx.tableName,
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues: { ":pk": nodeSourcePk(source), ":prefix": partPrefix(head.generation) },
        ConsistentRead: true,
      },
    );
    for await (const page of pages) for (const item of page.Items ?? []) bodies.push(String(item.body));
    if (bodies.length !== head.parts) continue; // replaced while we read: read the new one
    return {
      source,
      generation: head.generation,
      updatedAtMs: head.updatedAtMs,
      nodes: bodies.flatMap((body) => JSON.parse(body) as NodeSpec[]),
    };
  }
  throw new ConflictError(`The nodes of source ${source} kept changing while being read; try again.`);
}
