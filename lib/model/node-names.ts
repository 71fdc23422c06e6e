// The names of a tree's nodes as one column: their UTF-8 bytes back to back in one Buffer and
// each name's end offset in a Uint32Array, both outside the JS heap. A million names cost
// their bytes plus 4 bytes each instead of a million JS strings (~40 MB of heap); a name
// becomes a string only when read with `at`. Append-only while a tree is built.

const INITIAL_NAMES = 1024;
const INITIAL_BYTES = 16 * 1024;

export class NodeNames implements Iterable<string> {
  private bytes: Buffer = Buffer.allocUnsafe(INITIAL_BYTES);
  /** `ends[n]` is where name n's bytes end; name n starts at `ends[n - 1]` (0 for name 0). */
  private ends = new Uint32Array(INITIAL_NAMES);
  private count = 0;
  private used = 0;

  /** Names in order (for tests and small trees). */
  static of(names: Iterable<string>): NodeNames {
    const column = new NodeNames();
    for (const name of names) column.push(name);
    return column.trim();
  }

  get length(): number {
    return this.count;
  }

  /** Appends a name; returns its number. */
  push(name: string): number {
    const most = name.length * 3; // UTF-8 bytes per UTF-16 unit, at most
    if (this.used + most > this.bytes.length) this.bytes = grown(this.bytes, this.used, this.used + most);
    this.used += this.bytes.write(name, this.used, "utf8");
    return this.ended();
  }

  /** Records the end of the name just appended. */
  private ended(): number {
    if (this.count === this.ends.length) {
      const ends = new Uint32Array(this.ends.length * 2);
      ends.set(this.ends);
      this.ends = ends;
    }
    this.ends[this.count] = this.used;
    return this.count++;
  }

  /** Appends a name given as UTF-8 bytes; returns its number. */
  pushBytes(source: Uint8Array, start: number, end: number): number {
    if (this.used + end - start > this.bytes.length) this.bytes = grown(this.bytes, this.used, this.used + end - start);
    this.bytes.set(source.subarray(start, end), this.used);
    this.used += end - start;
    return this.ended();
  }

  /** Name `n` as a string; a RangeError outside 0..length-1. */
  at(n: number): string {
    if (!(n >= 0 && n < this.count)) throw new RangeError(`No node name ${n} (of ${this.count})`);
    return this.bytes.toString("utf8", this.start(n), this.ends[n]);
  }

  /** Where name `n`'s bytes start in `buffer`. */
  start(n: number): number {
    return n === 0 ? 0 : (this.ends[n - 1] as number);
  }

  /** Where name `n`'s bytes end in `buffer`. */
  end(n: number): number {
    return this.ends[n] as number;
  }

  /** The bytes of every name (read with `start` and `end`). */
  get buffer(): Buffer {
    return this.bytes;
  }

  /** Whether name `n` is `name`, without making a string for an ASCII name (a round's hot path). */
  equals(n: number, name: string): boolean {
    const start = this.start(n);
    const length = (this.ends[n] as number) - start;
    // A string's UTF-8 form has at least as many bytes as it has units, at most three times.
    if (length < name.length || length > name.length * 3) return false;
    if (length !== name.length) return this.at(n) === name;
    // As many bytes as units: the stored name is ASCII, a byte per unit.
    const bytes = this.bytes;
    for (let i = 0; i < length; i++) if (bytes[start + i] !== name.charCodeAt(i)) return false;
    return true;
  }

  /** Byte order of names `a` and `b` (as Bistro compares its std::string names). */
  compare(a: number, b: number): number {
    return this.bytes.compare(this.bytes, this.start(b), this.end(b), this.start(a), this.end(a));
  }

  /** Shrinks the buffers to the names they hold (when a tree is finished); returns itself. */
  trim(): this {
    if (this.bytes.length > this.used) this.bytes = Buffer.from(this.bytes.subarray(0, this.used));
    if (this.ends.length > this.count) this.ends = this.ends.slice(0, this.count);
    return this;
  }

  *[Symbol.iterator](): Iterator<string> {
    for (let n = 0; n < this.count; n++) yield this.at(n);
  }

  /** Every name as a string (for tests and small trees). */
  toArray(): string[] {
    return [...this];
  }
}

function grown(bytes: Buffer, used: number, needed: number): Buffer {
  const bigger = Buffer.allocUnsafe(Math.max(needed, bytes.length * 2));
  bytes.copy(bigger, 0, 0, used);
  return bigger;
}
