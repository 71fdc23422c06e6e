// The compact encoding of a node set (a list of nodes in source order), shared by stored
// refreshes and pushed sources (ADR 0006). Format 2 is a binary stream, gzipped: names
// front-coded against the previous name (a million `host17.db512`-style names shrink to a few
// bytes each before gzip), levels and tags as small ids defined at first use, parents inside the
// set as a backward distance and parents outside it (the instance, or nodes of other sources)
// by name. It is written in one pass over the nodes and hashed as it is written, so an
// unchanged refresh is detected before anything is compressed or stored. Format 1 (a gzipped
// JSON document of columns) is still read.
import { createHash, type Hash } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import { buildNodeTree, NodeNames, type NodeSpec, type NodeTree } from "../model/tree";

export const NODE_SET_FORMAT = 2;
const MAGIC = Buffer.from([0x53, 0x4e, 0x53, NODE_SET_FORMAT]); // "SNS" 2
const CHUNK_BYTES = 1 << 20;
const DISABLED = 1;
const TAGGED = 2;

/** A node set as the encoder reads it: position `i` in 0..count-1, parents before children. */
export interface NodeRows {
  readonly count: number;
  name(i: number): string;
  level(i: number): string;
  /** Position of the parent inside the set (< i), or -1 when it is outside (see parentName). */
  parentAt(i: number): number;
  parentName(i: number): string;
  enabled(i: number): boolean;
  tags(i: number): readonly string[] | undefined;
  /** The names as a byte column, name `i` at `names[i + offset]`: encoded without making strings. */
  readonly nameColumn?: { readonly names: NodeNames; readonly offset: number };
}

export interface EncodedNodes {
  /** sha256 (hex) of the uncompressed stream. */
  readonly hash: string;
  readonly count: number;
  /** gzip of the stream, compressed when first read (an unchanged set is never compressed). */
  readonly body: Buffer;
}

/** Appends bytes to 1 MB chunks, hashing each chunk as it fills. */
class ByteWriter {
  readonly chunks: Buffer[] = [];
  private buf = Buffer.allocUnsafe(CHUNK_BYTES);
  private at = 0;
  private scratch: Buffer[] = [Buffer.allocUnsafe(4096), Buffer.allocUnsafe(4096)];
  private previous = 0;
  private readonly hash: Hash = createHash("sha256");

  private room(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    this.flush();
    this.buf = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, bytes));
  }

  private flush(): void {
    if (this.at === 0) return;
    const chunk = this.buf.subarray(0, this.at);
    this.hash.update(chunk);
    this.chunks.push(chunk);
    this.at = 0;
  }

  varint(value: number): void {
    this.room(5);
    let v = value >>> 0;
    while (v >= 0x80) {
      this.buf[this.at++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.at++] = v;
  }

  byte(value: number): void {
    this.room(1);
    this.buf[this.at++] = value;
  }

  bytes(source: Buffer, start: number, end: number): void {
    this.room(end - start);
    this.at += source.copy(this.buf, this.at, start, end);
  }

  string(value: string): void {
    const length = Buffer.byteLength(value);
    this.varint(length);
    this.room(length);
    this.at += this.buf.write(value, this.at);
  }

  /** A name front-coded against the previous one: shared byte count, then the rest. */
  frontCoded(name: string): void {
    this.frontCodedCurrent(this.current(name.length * 3).write(name));
  }

  /** `frontCoded` for a name given as its UTF-8 bytes. */
  frontCodedBytes(source: Buffer, start: number, end: number): void {
    this.frontCodedCurrent(source.copy(this.current(end - start), 0, start, end));
  }

  /** The scratch buffer the next name goes into, at least `bytes` long. */
  private current(bytes: number): Buffer {
    const current = this.scratch[1] as Buffer;
    return current.length >= bytes ? current : (this.scratch[1] = Buffer.allocUnsafe(bytes));
  }

  /** Writes the name just put in the current scratch buffer (`length` bytes). */
  private frontCodedCurrent(length: number): void {
    const current = this.scratch[1] as Buffer;
    const previous = this.scratch[0] as Buffer;
    const limit = Math.min(length, this.previous);
    let shared = 0;
    while (shared < limit && previous[shared] === current[shared]) shared++;
    this.varint(shared);
    this.varint(length - shared);
    this.bytes(current, shared, length);
    this.scratch[1] = previous;
    this.scratch[0] = current;
    this.previous = length;
  }

  finish(): { chunks: Buffer[]; hash: string } {
    this.flush();
    return { chunks: this.chunks, hash: this.hash.digest("hex") };
  }
}

/** Ids for repeated strings (levels, tags, outside parents): a new one is written out where first used. */
class StringTable {
  private readonly ids = new Map<string, number>();

  write(out: ByteWriter, value: string): void {
    const id = this.ids.get(value);
    if (id !== undefined) {
      out.varint(id);
      return;
    }
    out.varint(this.ids.size);
    out.string(value);
    this.ids.set(value, this.ids.size);
  }
}

/** Encodes a node set; equal sets (same nodes, same order) give equal hashes. */
export function encodeRows(rows: NodeRows): EncodedNodes {
  const out = new ByteWriter();
  const levels = new StringTable();
  const tags = new StringTable();
  const outside = new StringTable();
  out.bytes(MAGIC, 0, MAGIC.length);
  out.varint(rows.count);
  const column = rows.nameColumn;
  for (let i = 0; i < rows.count; i++) {
    if (column) {
      const n = i + column.offset;
      out.frontCodedBytes(column.names.buffer, column.names.start(n), column.names.end(n));
    } else {
      out.frontCoded(rows.name(i));
    }
    levels.write(out, rows.level(i));
    const parentAt = rows.parentAt(i);
    if (parentAt >= 0) {
      out.varint(i - parentAt);
    } else {
      out.varint(0);
      outside.write(out, rows.parentName(i));
    }
    const nodeTags = rows.tags(i);
    const unique = nodeTags && nodeTags.length > 0 ? [...new Set(nodeTags)].sort() : [];
    out.byte((rows.enabled(i) ? 0 : DISABLED) | (unique.length > 0 ? TAGGED : 0));
    if (unique.length > 0) {
      out.varint(unique.length);
      for (const tag of unique) tags.write(out, tag);
    }
  }
  const { chunks, hash } = out.finish();
  let body: Buffer | undefined;
  return {
    hash,
    count: rows.count,
    get body() {
      return (body ??= gzipSync(Buffer.concat(chunks), { level: 6 }));
    },
  };
}

/** Node specs as rows: a parent inside the set is the first earlier node of that name. */
export function specRows(nodes: readonly NodeSpec[]): NodeRows {
  const position = new Map<string, number>();
  const parentAt = new Int32Array(nodes.length);
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i] as NodeSpec;
    parentAt[i] = position.get(node.parent) ?? -1;
    if (!position.has(node.name)) position.set(node.name, i);
  }
  const at = (i: number) => nodes[i] as NodeSpec;
  return {
    count: nodes.length,
    name: (i) => at(i).name,
    level: (i) => at(i).level,
    parentAt: (i) => parentAt[i] as number,
    parentName: (i) => at(i).parent,
    enabled: (i) => at(i).enabled !== false,
    tags: (i) => at(i).tags,
  };
}

/** A tree's nodes (without the instance node) as rows: the instance is the one outside parent. */
export function treeRows(tree: NodeTree): NodeRows {
  return {
    count: tree.size - 1,
    name: (i) => tree.names.at(i + 1),
    level: (i) => tree.levels[tree.levelOf[i + 1] as number] as string,
    parentAt: (i) => (tree.parentOf[i + 1] as number) - 1,
    parentName: (i) => tree.names.at(tree.parentOf[i + 1] as number),
    enabled: (i) => tree.enabled[i + 1] === 1,
    tags: (i) => tree.tags[i + 1],
    nameColumn: { names: tree.names, offset: 1 },
  };
}

/** Encodes node specs; `encodeNodes(decodeNodes(x.body))` has the same hash as `x`. */
export function encodeNodes(nodes: readonly NodeSpec[]): EncodedNodes {
  return encodeRows(specRows(nodes));
}

export class NodeSetFormatError extends Error {
  override readonly name = "NodeSetFormatError";
}

/** Reads a stored set (format 1 or 2), one node spec at a time, in order. */
export function* readNodes(body: Uint8Array): Generator<NodeSpec> {
  const data = gunzipSync(body);
  if (data.length >= MAGIC.length && data.subarray(0, MAGIC.length).equals(MAGIC)) yield* readFormat2(data);
  else if (data[0] === 0x7b) yield* readFormat1(data);
  else throw new NodeSetFormatError(`Unknown node set format (first byte ${String(data[0])})`);
}

function* readFormat2(data: Buffer): Generator<NodeSpec> {
  let at = MAGIC.length;
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = data[at++];
      if (byte === undefined) throw new NodeSetFormatError("A node set ends early");
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
  };
  const string = (): string => {
    const length = varint();
    const value = data.toString("utf8", at, at + length);
    at += length;
    return value;
  };
  const tableRead = (table: string[]): string => {
    const id = varint();
    if (id === table.length) table.push(string());
    const value = table[id];
    if (value === undefined) throw new NodeSetFormatError(`A node set names string ${id} before defining it`);
    return value;
  };
  const levels: string[] = [];
  const tags: string[] = [];
  const outside: string[] = [];
  // Parents are named by distance: earlier names are kept as bytes, made strings when named.
  const names = new NodeNames();
  let parentAt = -1;
  let parentName = "";
  let scratch = Buffer.allocUnsafe(4096);
  const count = varint();
  for (let i = 0; i < count; i++) {
    const shared = varint();
    const rest = varint();
    if (scratch.length < shared + rest) {
      const bigger = Buffer.allocUnsafe(2 * (shared + rest));
      scratch.copy(bigger, 0, 0, shared);
      scratch = bigger;
    }
    data.copy(scratch, shared, at, at + rest);
    at += rest;
    const name = scratch.toString("utf8", 0, shared + rest);
    names.pushBytes(scratch, 0, shared + rest);
    const level = tableRead(levels);
    const distance = varint();
    if (distance > i) throw new NodeSetFormatError(`Node ${i} of a node set names a parent before the set`);
    if (distance > 0 && i - distance !== parentAt) {
      parentAt = i - distance;
      parentName = names.at(parentAt);
    }
    const parent = distance > 0 ? parentName : tableRead(outside);
    const flags = data[at++] ?? 0;
    const node: NodeSpec = { name, level, parent, enabled: (flags & DISABLED) === 0 };
    if (flags & TAGGED) {
      const n = varint();
      const nodeTags: string[] = [];
      for (let t = 0; t < n; t++) nodeTags.push(tableRead(tags));
      node.tags = nodeTags;
    }
    yield node;
  }
}

/** Format 1: one JSON document of columns (sets stored before format 2). */
interface Format1 {
  v: number;
  levels: string[];
  names: string[];
  level: number[];
  parent: (number | string)[];
  disabled: number[];
  tags: string[];
  tagged: number[][];
}

function* readFormat1(data: Buffer): Generator<NodeSpec> {
  const doc = JSON.parse(data.toString("utf8")) as Format1;
  if (doc.v !== 1) throw new NodeSetFormatError(`Unknown node set format ${String(doc.v)}`);
  const disabled = new Set(doc.disabled);
  const tagsOf = new Map<number, string[]>();
  for (const [index, ...ids] of doc.tagged) {
    if (index !== undefined)
      tagsOf.set(
        index,
        ids.map((id) => doc.tags[id] ?? ""),
      );
  }
  for (let i = 0; i < doc.names.length; i++) {
    const parent = doc.parent[i];
    const node: NodeSpec = {
      name: doc.names[i] ?? "",
      level: doc.levels[doc.level[i] ?? 0] ?? "",
      parent: typeof parent === "number" ? (doc.names[i - parent] ?? "") : (parent ?? ""),
      enabled: !disabled.has(i),
    };
    const tags = tagsOf.get(i);
    if (tags) node.tags = tags;
    yield node;
  }
}

/** Decodes what `encodeNodes` (or format 1) wrote. */
export function decodeNodes(body: Uint8Array): NodeSpec[] {
  return [...readNodes(body)];
}

/** Decodes a stored tree set straight into a tree, without holding its specs. */
export function decodeTree(levels: readonly string[], instanceName: string, body: Uint8Array): NodeTree {
  return buildNodeTree(levels, instanceName, readNodes(body));
}

/** A short stable hash of any JSON value (e.g. the node settings a stored refresh came from). */
export function jsonHash(value: unknown): string {
  return createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 32);
}
