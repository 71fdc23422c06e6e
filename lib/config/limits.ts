// Every input limit of Sous in one place: pure constants and the cheap checks that apply them
// before any costly work (parsing, allocating, storing). docs/limits.md lists each constant and
// test/unit/limits-docs.test.ts keeps the two in step. A check returns a message naming the
// limit, or undefined; callers turn it into their own error (a 400, a config issue).

/** Request bodies, in bytes. Below Lambda's 6 MB synchronous payload, so Sous answers first. */
export const MAX_BODY_BYTES = 5 * 1024 * 1024;
/** Nesting of arrays and objects in any JSON Sous parses (deeper values overflow recursive code). */
export const MAX_JSON_DEPTH = 100;
/** Jobs in one config. */
export const MAX_JOBS = 20_000;
/** One job name, in UTF-8 bytes (it is part of DynamoDB partition keys, at most 2,048 bytes). */
export const MAX_JOB_NAME_BYTES = 1_024;
/**
 * One top-level entry of a config (`bistro_settings` or one job) as JSON, in bytes: the store
 * keeps each entry whole in one item part, and DynamoDB items hold at most 400 KB.
 */
export const MAX_CONFIG_ENTRY_BYTES = 300_000;
/** Nodes in the tree all node sources produce together (the instance and workers aside). */
export const MAX_NODES = 1_000_000;
/**
 * One node name, in UTF-8 bytes, where `#` and `%` count 3 bytes each (log index keys escape
 * them). Node names are DynamoDB sort keys (at most 1,024 bytes) and some keys add a prefix or a
 * suffix of up to 64 bytes.
 */
export const MAX_NODE_NAME_BYTES = 960;
/** Tags on one node. */
export const MAX_TAGS_PER_NODE = 256;
/** One tag, in UTF-8 bytes. */
export const MAX_TAG_BYTES = 256;
/** A node source name used in `PUT /nodes/{source}`, in characters. */
export const MAX_NODE_SOURCE_NAME_CHARS = 200;
/** Width in a `range_label` format placeholder (`{i:0>WIDTH}`): no name may be longer anyway. */
export const MAX_RANGE_LABEL_WIDTH = MAX_NODE_NAME_BYTES;
/** Placeholders in one `range_label` format. */
export const MAX_RANGE_LABEL_PLACEHOLDERS = 16;
/** Job names in one `task_logs` query (Bistro's POST /) or `GET /logs` request. */
export const MAX_LOG_QUERY_JOBS = 1_000;
/** Node names in one `task_logs` query or `GET /logs` request. */
export const MAX_LOG_QUERY_NODES = 1_000;
/** A user regular expression (job filters, log searches), in characters. */
export const MAX_REGEX_CHARS = 1_000;
/** Issues listed in one answer or kept on one job; the rest are counted in a last issue. */
export const MAX_REPORTED_ISSUES = 100;

/** Every limit by name, for docs and tests. */
export const LIMITS = {
  MAX_BODY_BYTES,
  MAX_JSON_DEPTH,
  MAX_JOBS,
  MAX_JOB_NAME_BYTES,
  MAX_CONFIG_ENTRY_BYTES,
  MAX_NODES,
  MAX_NODE_NAME_BYTES,
  MAX_TAGS_PER_NODE,
  MAX_TAG_BYTES,
  MAX_NODE_SOURCE_NAME_CHARS,
  MAX_RANGE_LABEL_WIDTH,
  MAX_RANGE_LABEL_PLACEHOLDERS,
  MAX_LOG_QUERY_JOBS,
  MAX_LOG_QUERY_NODES,
  MAX_REGEX_CHARS,
  MAX_REPORTED_ISSUES,
} as const satisfies Record<string, number>;

export type LimitName = keyof typeof LIMITS;

/**
 * `1,234,567`: how limits read in messages. Whole numbers are grouped by hand: the first
 * `toLocaleString` loads ICU's locale data (tens of ms), and a message built at import would
 * put that on every cold start.
 */
export function formatCount(value: number): string {
  if (!Number.isSafeInteger(value)) return value.toLocaleString("en-US");
  return String(value).replace(/\B(?=(\d{3})+$)/g, ",");
}

/** "is N; the limit is L (NAME)" phrasing shared by every limit message. */
export function overLimit(what: string, actual: number, name: LimitName, unit = ""): string {
  const limit = LIMITS[name];
  const suffix = unit === "" ? "" : ` ${unit}`;
  return `${what} is ${formatCount(actual)}${suffix}; the limit is ${formatCount(limit)}${suffix} (${name})`;
}

/** UTF-8 length of a string without encoding it. */
export function utf8Bytes(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else {
        bytes += 3;
      }
    } else bytes += 3;
  }
  return bytes;
}

/**
 * The nesting depth of JSON text, found by one scan that stops as soon as it passes `limit`:
 * checked before JSON.parse, because a parsed value that deep overflows the stack of every
 * recursive walk afterwards (copying, serializing, validating).
 */
export function jsonDepthExceeds(text: string, limit: number = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i);
    if (inString) {
      if (char === 0x5c)
        i++; // backslash: skip the escaped character
      else if (char === 0x22) inString = false;
    } else if (char === 0x22) inString = true;
    else if (char === 0x5b || char === 0x7b) {
      if (++depth > limit) return true;
    } else if (char === 0x5d || char === 0x7d) depth--;
  }
  return false;
}

export const JSON_DEPTH_MESSAGE = `JSON is nested deeper than the limit of ${formatCount(MAX_JSON_DEPTH)} levels (MAX_JSON_DEPTH)`;

/** The depth problem of JSON text, or undefined. */
export function jsonDepthProblem(text: string): string | undefined {
  return jsonDepthExceeds(text) ? JSON_DEPTH_MESSAGE : undefined;
}

/** The depth of an already-parsed value exceeds the limit (iterative: safe on any depth). */
export function valueDepthExceeds(value: unknown, limit: number = MAX_JSON_DEPTH): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const [item, depth] = top;
    if (typeof item !== "object" || item === null) continue;
    if (depth + 1 > limit) return true;
    for (const child of Array.isArray(item) ? item : Object.values(item)) stack.push([child, depth + 1]);
  }
  return false;
}

/** Node name problems: empty, or longer than its keys allow. */
export function nodeNameProblem(name: string): string | undefined {
  if (name === "") return "a node name must not be empty";
  const bytes = nodeNameKeyBytes(name);
  if (bytes <= MAX_NODE_NAME_BYTES) return undefined;
  return overLimit(`node name ${shortName(name)} is too long: its key size`, bytes, "MAX_NODE_NAME_BYTES", "bytes");
}

/** A node name's size as the limit counts it: UTF-8 bytes, `#` and `%` 3 each. */
export function nodeNameKeyBytes(name: string): number {
  let escaped = 0;
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code === 0x23 || code === 0x25) escaped += 2;
  }
  return utf8Bytes(name) + escaped;
}

/** Tag list problems of one node (count, then each tag's size), or undefined. */
export function tagsProblem(tags: readonly string[]): string | undefined {
  if (tags.length > MAX_TAGS_PER_NODE) return overLimit("the number of tags", tags.length, "MAX_TAGS_PER_NODE");
  for (const tag of tags) {
    const bytes = utf8Bytes(tag);
    if (bytes > MAX_TAG_BYTES)
      return overLimit(`tag ${shortName(tag)} is too long: its size`, bytes, "MAX_TAG_BYTES", "bytes");
  }
  return undefined;
}

/** Job name problems, or undefined (emptiness is the parser's own error). */
export function jobNameProblem(name: string): string | undefined {
  const bytes = utf8Bytes(name);
  if (bytes <= MAX_JOB_NAME_BYTES) return undefined;
  return overLimit(`job name ${shortName(name)} is too long: its size`, bytes, "MAX_JOB_NAME_BYTES", "bytes");
}

/** The first characters of a long name, for messages that must stay short. */
export function shortName(name: string): string {
  return JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}...` : name);
}
