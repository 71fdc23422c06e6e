// Job filters, one per level (JobFilters.cpp): parsing, the regex dialect, and
// what counts as an empty filter. A filter that keeps every node is left out of the model, as
// Bistro leaves it out of its JSON.
import type { JobFilter } from "../model/config";
import { describeValue, type IssueSink } from "./issues";
import { NUMBER, ObjectReader, readStringArray, STRING } from "./read";
import { compileUserRegex, type UserRegex } from "./regex";

/**
 * Compiles a filter regex. Bistro uses boost (Perl syntax) with search semantics; Sous uses RE2
 * (linear time, lib/config/regex.ts), which covers Perl syntax except back-references and
 * look-around. The scheduler compiles with this too, so validation and matching agree.
 */
export function filterRegex(source: string): UserRegex {
  return compileUserRegex(source);
}

/** The filter for one level, undefined when it keeps every node or is broken (errors recorded). */
export function parseFilter(sink: IssueSink, value: unknown, path: string): JobFilter | undefined {
  const reader = ObjectReader.of(sink, value, path);
  if (!reader) return undefined;
  const filter: JobFilter = {
    whitelist: readList(reader, "whitelist"),
    whitelistRegex: readRegex(reader, "whitelist_regex"),
    blacklist: readList(reader, "blacklist"),
    blacklistRegex: readRegex(reader, "blacklist_regex"),
    tagWhitelist: readList(reader, "tag_whitelist"),
    fractionOfNodes: readFraction(reader),
  };
  reader.reportUnknownKeys();
  return isEmptyFilter(filter) ? undefined : filter;
}

export function isEmptyFilter(filter: JobFilter): boolean {
  return (
    filter.whitelist.length === 0 &&
    filter.whitelistRegex === null &&
    filter.blacklist.length === 0 &&
    filter.blacklistRegex === null &&
    filter.tagWhitelist.length === 0 &&
    filter.fractionOfNodes === 1
  );
}

function readList(reader: ObjectReader, key: string): string[] {
  return reader.has(key) ? (readStringArray(reader.sink, reader.take(key), reader.at(key)) ?? []) : [];
}

function readRegex(reader: ObjectReader, key: string): string | null {
  // An empty regex is "no regex" in Bistro (boost::regex::empty()).
  const source = reader.optional(key, STRING, "");
  if (source === "") return null;
  try {
    filterRegex(source);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    reader.sink.error(reader.at(key), `invalid regular expression: ${reason}`, source);
    return null;
  }
  return source;
}

function readFraction(reader: ObjectReader): number {
  const key = "fraction_of_nodes";
  const fraction = reader.optional(key, NUMBER, 1);
  // Bistro treats <= 0 as 1 (a likely typo should not silence a job); > 1 would overflow its hash cutoff.
  if (fraction <= 0 || fraction > 1) {
    reader.sink.warn(
      reader.at(key),
      `expected a number in (0, 1], found ${describeValue(fraction)}; using 1 (every node)`,
    );
    return 1;
  }
  return fraction;
}
