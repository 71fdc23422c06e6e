// A compact name -> node number index for large trees: open addressing over an Int32Array of
// node numbers into the tree's own name column (NodeNames), so a million names cost 8 MB outside the JS
// heap instead of a Map's ~30 MB of heap entries. It maps each name to its first node (the
// first copy of a replicated name). Read-only to users: it implements ReadonlyMap.
import type { NodeNames } from "./node-names";

/** FNV-1a over UTF-16 code units. */
export function hashName(name: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

export class NameIndex implements ReadonlyMap<string, number> {
  /** Node number + 1 per slot; 0 is an empty slot. */
  private slots: Int32Array;
  /** Each indexed node's name hash, so growing never hashes names again. */
  private hashes = new Uint32Array(1024);
  private count = 0;

  /** `names`: the tree's names by node number; nodes are added with `addFirst`. */
  constructor(private readonly names: NodeNames) {
    this.slots = new Int32Array(16);
  }

  get size(): number {
    return this.count;
  }

  get(name: string, hash = hashName(name)): number | undefined {
    const slots = this.slots;
    const mask = slots.length - 1;
    for (let at = hash & mask; ; at = (at + 1) & mask) {
      const slot = slots[at] as number;
      if (slot === 0) return undefined;
      if (this.hashes[slot - 1] === hash && this.names.equals(slot - 1, name)) return slot - 1;
    }
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /**
   * Indexes node `node` (whose name has hash `hash`) unless its name is indexed already; returns
   * the node indexed under the name.
   */
  addFirst(node: number, hash = hashName(this.names.at(node))): number {
    if ((this.count + 1) * 2 > this.slots.length) this.grow();
    const slots = this.slots;
    const mask = slots.length - 1;
    for (let at = hash & mask; ; at = (at + 1) & mask) {
      const slot = slots[at] as number;
      if (slot === 0) {
        if (node >= this.hashes.length) {
          const hashes = new Uint32Array(Math.max(node + 1, this.hashes.length * 2));
          hashes.set(this.hashes);
          this.hashes = hashes;
        }
        this.hashes[node] = hash;
        slots[at] = node + 1;
        this.count++;
        return node;
      }
      if (this.hashes[slot - 1] === hash && this.names.compare(slot - 1, node) === 0) return slot - 1;
    }
  }

  private grow(): void {
    const old = this.slots;
    const slots = new Int32Array(old.length * 2);
    const mask = slots.length - 1;
    for (const slot of old) {
      if (slot === 0) continue;
      let at = (this.hashes[slot - 1] as number) & mask;
      while (slots[at] !== 0) at = (at + 1) & mask;
      slots[at] = slot;
    }
    this.slots = slots;
  }

  *entries(): MapIterator<[string, number]> {
    // Node order, like a Map filled in node order.
    for (let node = 0; node < this.names.length; node++) {
      const name = this.names.at(node);
      if (this.get(name) === node) yield [name, node];
    }
  }

  *keys(): MapIterator<string> {
    for (const [name] of this.entries()) yield name;
  }

  *values(): MapIterator<number> {
    for (const [, node] of this.entries()) yield node;
  }

  [Symbol.iterator](): MapIterator<[string, number]> {
    return this.entries();
  }

  forEach(callback: (value: number, key: string, map: ReadonlyMap<string, number>) => void): void {
    for (const [name, node] of this.entries()) callback(node, name, this);
  }
}
