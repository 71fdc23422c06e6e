// DynamoDB item sizes and write units as AWS bills them (DynamoDB Local's own consumed-capacity
// figures undercount transactions). Used by benchmarks and cost estimates.
//
// Size rules: attribute names and strings count their UTF-8 bytes; numbers about 1 byte per
// two significant digits plus 1; booleans and null 1 byte; lists and maps 3 bytes plus 1 per
// element plus their contents; sets the sum of their elements. Units: a standard write costs
// 1 unit per started KB; every item of a TransactWriteItems (condition checks included) costs 2.

const KB = 1024;

function numberSize(value: number): number {
  const digits = String(Math.abs(value))
    .replace(/[.e+-]/g, "")
    .replace(/^0+/, "")
    .replace(/0+$/, "");
  return Math.ceil(Math.max(1, digits.length) / 2) + 1;
}

export function valueSize(value: unknown): number {
  if (value === null || value === undefined || typeof value === "boolean") return 1;
  if (typeof value === "string") return Buffer.byteLength(value);
  if (typeof value === "number" || typeof value === "bigint") return numberSize(Number(value));
  if (value instanceof Uint8Array) return value.byteLength;
  if (value instanceof Set) return [...(value as Set<unknown>)].reduce<number>((n, v) => n + valueSize(v), 0);
  if (Array.isArray(value)) return 3 + value.reduce<number>((n, v) => n + 1 + valueSize(v), 0);
  if (typeof value === "object") {
    return 3 + Object.entries(value).reduce((n, [k, v]) => n + 1 + Buffer.byteLength(k) + valueSize(v), 0);
  }
  throw new TypeError(`Cannot size a ${typeof value}`);
}

/** Size of an item (top-level attributes carry no map overhead). */
export function itemSize(item: Record<string, unknown>): number {
  return Object.entries(item).reduce((n, [k, v]) => n + Buffer.byteLength(k) + valueSize(v), 0);
}

/** Write units of one item in a transaction: 2 per started KB (at least 2). */
export function transactionalWriteUnits(sizeBytes: number): number {
  return 2 * Math.max(1, Math.ceil(sizeBytes / KB));
}

/** Write units of one standard (non-transactional) write: 1 per started KB. */
export function standardWriteUnits(sizeBytes: number): number {
  return Math.max(1, Math.ceil(sizeBytes / KB));
}
