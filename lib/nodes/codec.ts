// The compact encoding of a node set (a list of node specs in source order), shared by stored
// refreshes and pushed sources: one JSON document of columns, so a million nodes cost a few
// bytes each once gzipped. Parents inside the set are stored as a backward distance (small,
// repetitive numbers that compress well); parents outside it (the instance, or nodes of other
// sources) by name. The content hash is taken over the uncompressed document, so equal node
// lists give equal hashes and an unchanged refresh or push can be detected without writing.
import { createHash } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import type { NodeSpec } from "../model/tree";

export const NODE_SET_FORMAT = 1;

interface EncodedNodeSet {
  v: number;
  /** Distinct level names, in order of first use. */
  levels: string[];
  names: string[];
  /** Index into `levels`, per node. */
  level: number[];
  /** Per node: a positive distance back to the parent inside the set, or the parent's name. */
  parent: (number | string)[];
  /** Indices of disabled nodes. */
  disabled: number[];
  /** Distinct tags, and per tagged node [index, tag indices...]. */
  tags: string[];
  tagged: number[][];
}

export interface EncodedNodes {
  /** gzip of the column document. */
  body: Buffer;
  /** sha256 (hex) of the uncompressed column document. */
  hash: string;
  count: number;
}

/** Encodes node specs; `encodeNodes(decodeNodes(x.body))` has the same hash as `x`. */
export function encodeNodes(nodes: readonly NodeSpec[]): EncodedNodes {
  const levels: string[] = [];
  const levelIds = new Map<string, number>();
  const tags: string[] = [];
  const tagIds = new Map<string, number>();
  const position = new Map<string, number>();
  const doc: EncodedNodeSet = {
    v: NODE_SET_FORMAT,
    levels,
    names: new Array<string>(nodes.length),
    level: new Array<number>(nodes.length),
    parent: new Array<number | string>(nodes.length),
    disabled: [],
    tags,
    tagged: [],
  };
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i] as NodeSpec;
    let level = levelIds.get(node.level);
    if (level === undefined) {
      level = levels.push(node.level) - 1;
      levelIds.set(node.level, level);
    }
    doc.names[i] = node.name;
    doc.level[i] = level;
    const parentAt = position.get(node.parent);
    doc.parent[i] = parentAt === undefined ? node.parent : i - parentAt;
    // The first copy wins, as a replica's parent search would find it first.
    if (!position.has(node.name)) position.set(node.name, i);
    if (node.enabled === false) doc.disabled.push(i);
    if (node.tags && node.tags.length > 0) {
      const row = [i];
      for (const tag of [...new Set(node.tags)].sort()) {
        let id = tagIds.get(tag);
        if (id === undefined) {
          id = tags.push(tag) - 1;
          tagIds.set(tag, id);
        }
        row.push(id);
      }
      doc.tagged.push(row);
    }
  }
  const text = JSON.stringify(doc);
  return {
    body: gzipSync(text, { level: 6 }),
    hash: createHash("sha256").update(text).digest("hex"),
    count: nodes.length,
  };
}

export class NodeSetFormatError extends Error {
  override readonly name = "NodeSetFormatError";
}

/** Decodes what `encodeNodes` wrote. */
export function decodeNodes(body: Uint8Array): NodeSpec[] {
  const doc = JSON.parse(gunzipSync(body).toString("utf8")) as EncodedNodeSet;
  if (doc.v !== NODE_SET_FORMAT) throw new NodeSetFormatError(`Unknown node set format ${String(doc.v)}`);
  const count = doc.names.length;
  const disabled = new Set(doc.disabled);
  const tagsOf = new Map<number, string[]>();
  for (const [index, ...ids] of doc.tagged) {
    if (index !== undefined)
      tagsOf.set(
        index,
        ids.map((id) => doc.tags[id] ?? ""),
      );
  }
  const nodes = new Array<NodeSpec>(count);
  for (let i = 0; i < count; i++) {
    const parent = doc.parent[i];
    const node: NodeSpec = {
      name: doc.names[i] ?? "",
      level: doc.levels[doc.level[i] ?? 0] ?? "",
      parent: typeof parent === "number" ? (doc.names[i - parent] ?? "") : (parent ?? ""),
      enabled: !disabled.has(i),
    };
    const tags = tagsOf.get(i);
    if (tags) node.tags = tags;
    nodes[i] = node;
  }
  return nodes;
}

/** A short stable hash of any JSON value (e.g. the node settings a stored refresh came from). */
export function jsonHash(value: unknown): string {
  return createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 32);
}
