// The backoff ladder setting (JobBackoffSettings.cpp): strictly increasing
// positive integer seconds, optionally ending with "repeat" or "fail" (no string = "fail").
// Parsing and the JSON form live here; using the ladder is the scheduler's business.
import type { BackoffSettings } from "../model/config";
import { childPath, describeValue, type IssueSink } from "./issues";

const EXPECTED =
  'an array of strictly increasing positive integers (seconds), optionally ending with "repeat" or "fail"';

/**
 * Parses a backoff setting. Records the first problem (Bistro rejects the whole setting on its
 * first bad item) and returns undefined, so the caller keeps its default.
 */
export function parseBackoff(sink: IssueSink, value: unknown, path: string): BackoffSettings | undefined {
  if (!Array.isArray(value)) {
    sink.error(path, `expected ${EXPECTED}, found ${describeValue(value)}`, value);
    return undefined;
  }
  if (value.length === 0) {
    sink.error(path, `backoff is empty; expected ${EXPECTED} (["fail"] means no retries)`, value);
    return undefined;
  }
  const values: number[] = [];
  for (const [index, item] of (value as unknown[]).entries()) {
    const itemPath = childPath(path, index);
    if (typeof item === "string") {
      if (item !== "repeat" && item !== "fail") {
        sink.error(itemPath, `unknown string ${JSON.stringify(item)} in backoff; expected "repeat" or "fail"`, item);
        return undefined;
      }
      if (item === "repeat" && values.length === 0) {
        sink.error(itemPath, '"repeat" needs at least one backoff time before it', item);
        return undefined;
      }
      if (index < value.length - 1) {
        sink.warn(childPath(path, index + 1), `items after ${JSON.stringify(item)} are ignored`);
      }
      return { values, end: item };
    }
    if (typeof item !== "number" || !Number.isSafeInteger(item)) {
      sink.error(itemPath, `expected a positive integer, "repeat" or "fail", found ${describeValue(item)}`, item);
      return undefined;
    }
    if (item <= 0) {
      sink.error(itemPath, `backoff times must be positive, found ${item}`, item);
      return undefined;
    }
    const previous = values[values.length - 1];
    if (previous === item) {
      sink.error(itemPath, `duplicate backoff time ${item}; times must be strictly increasing`, item);
      return undefined;
    }
    if (previous !== undefined && previous > item) {
      sink.error(itemPath, `backoff times must be in increasing order, found ${item} after ${previous}`, item);
      return undefined;
    }
    values.push(item);
  }
  return { values, end: "fail" };
}

/** Bistro's JSON form: the values, then always "repeat" or "fail" (so `["fail"]` stays `["fail"]`). */
export function serializeBackoff(backoff: BackoffSettings): (number | string)[] {
  return [...backoff.values, backoff.end];
}
