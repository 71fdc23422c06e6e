// Field-by-field reading of Bistro JSON, the way Bistro's DynamicParser does it: each field is
// checked on its own (zod rules for the leaf shapes), a bad field records an issue and keeps its
// default, and every problem is reported, not just the first. Keys nobody asked for become
// "unknown key, ignored" warnings instead of vanishing.
import * as z from "./zod";
import { childPath, copyJson, describeValue, isPlainObject, oneOf, type IssueSink } from "./issues";

/** A leaf shape: a zod schema and the words saying what it expects. */
export interface Rule<T> {
  readonly schema: z.ZodMiniType<T>;
  readonly expected: string;
}

/**
 * A rule whose schema is built on first use, not at import: building zod schemas is most of the
 * work these modules would do when a Lambda bundle is required (docs/adr/0003), and many rules
 * are never used by a given function.
 */
export function rule<T>(build: () => z.ZodMiniType<T>, expected: string): Rule<T> {
  let schema: z.ZodMiniType<T> | undefined;
  return {
    get schema() {
      return (schema ??= build());
    },
    expected,
  };
}

export const BOOL = rule(() => z.boolean(), "true or false");
export const INT = rule(() => z.int(), "an integer");
export const NON_NEGATIVE_INT = rule(() => z.int().check(z.minimum(0)), "an integer >= 0");
export const POSITIVE_INT = rule(() => z.int().check(z.minimum(1)), "an integer >= 1");
export const NUMBER = rule(() => z.number(), "a number");
/** Far beyond any useful wait, and small enough that its milliseconds stay exact integers. */
export const MAX_SECONDS = 1e12;
export const SECONDS = rule(
  () => z.number().check(z.minimum(0), z.maximum(MAX_SECONDS)),
  "a number of seconds from 0 to 1e12",
);
export const STRING = rule(() => z.string(), "a string");
/** Any JSON object, copied (see copyJson); z.record would drop a `__proto__` key. */
export const OBJECT = rule(
  () =>
    z.pipe(
      z.custom<Record<string, unknown>>(isPlainObject),
      z.transform((value) => copyJson(value) as Record<string, unknown>),
    ),
  "an object",
);

export function enumRule<T extends string>(values: readonly [T, ...T[]]): Rule<T> {
  return rule(() => z.enum(values), `one of ${oneOf(values)}`);
}

/** The value if it fits `r`; otherwise records "expected ..., found ..." and returns undefined. */
export function check<T>(sink: IssueSink, value: unknown, path: string, r: Rule<T>): T | undefined {
  const result = r.schema.safeParse(value);
  // -0 is not JSON (it serializes as 0), so it must not survive into the model.
  if (result.success) return Object.is(result.data, -0) ? (0 as T) : result.data;
  sink.error(path, `expected ${r.expected}, found ${describeValue(value)}`, value);
  return undefined;
}

/**
 * The strings of an array. Each non-string item is an error at its index and is left out (as
 * Bistro's per-item parsing does); a non-array is an error and gives undefined.
 */
export function readStringArray(sink: IssueSink, value: unknown, path: string): string[] | undefined {
  if (!Array.isArray(value)) {
    sink.error(path, `expected an array of strings, found ${describeValue(value)}`, value);
    return undefined;
  }
  const strings: string[] = [];
  value.forEach((item: unknown, index) => {
    const s = check(sink, item, childPath(path, index), STRING);
    if (s !== undefined) strings.push(s);
  });
  return strings;
}

/** Reads one JSON object; remembers which keys were asked for so the rest can be reported. */
export class ObjectReader {
  private readonly known = new Set<string>();

  constructor(
    readonly sink: IssueSink,
    readonly value: Readonly<Record<string, unknown>>,
    readonly path: string,
  ) {}

  /** Reads an object at `path`, or records an error and returns undefined. */
  static of(sink: IssueSink, value: unknown, path: string): ObjectReader | undefined {
    if (isPlainObject(value)) return new ObjectReader(sink, value, path);
    sink.error(path, `expected an object, found ${describeValue(value)}`, value);
    return undefined;
  }

  /** Path of one of this object's keys. */
  at(key: string): string {
    return childPath(this.path, key);
  }

  /** Whether the key is present; the key counts as known. `undefined` (not JSON) counts as absent. */
  has(key: string): boolean {
    this.known.add(key);
    return Object.hasOwn(this.value, key) && this.value[key] !== undefined;
  }

  /** The raw value of a key (undefined when absent); the key counts as known. */
  take(key: string): unknown {
    return this.has(key) ? this.value[key] : undefined;
  }

  optional<T>(key: string, r: Rule<T>, fallback: T): T {
    if (!this.has(key)) return fallback;
    return check(this.sink, this.value[key], this.at(key), r) ?? fallback;
  }

  required<T>(key: string, r: Rule<T>, fallback: T): T {
    if (!this.has(key)) {
      this.missing(key, r.expected);
      return fallback;
    }
    return check(this.sink, this.value[key], this.at(key), r) ?? fallback;
  }

  missing(key: string, expected: string): void {
    this.sink.error(this.at(key), `required key is missing; expected ${expected}`);
  }

  /** A nested object reader, or undefined (with an error) when the value is not an object. */
  object(key: string): ObjectReader | undefined {
    return this.has(key) ? ObjectReader.of(this.sink, this.value[key], this.at(key)) : undefined;
  }

  /**
   * Warns about every key not asked for. `hints` maps keys people use by mistake (docs typos,
   * removed features) to what to say instead of the generic message.
   */
  reportUnknownKeys(hints: Readonly<Record<string, string>> = {}): void {
    for (const key of Object.keys(this.value)) {
      if (this.known.has(key)) continue;
      if (Object.hasOwn(hints, key)) {
        this.sink.warn(this.at(key), hints[key] ?? "");
        continue;
      }
      const guess = closestName(key, [...this.known]);
      this.sink.warn(this.at(key), guess ? `unknown key, ignored (did you mean "${guess}"?)` : "unknown key, ignored");
    }
  }
}

/** The candidate within a small edit distance of `name`, if there is one. */
export function closestName(name: string, candidates: readonly string[]): string | undefined {
  const limit = Math.min(2, Math.floor(name.length / 3));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of candidates) {
    // Lengths further apart than the limit cannot be within it: skip (keeps huge keys cheap).
    if (Math.abs(candidate.length - name.length) > limit) continue;
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
