// Job filters: which nodes of a level, and which worker hostnames, a job
// accepts. Compiled once per round; every present condition must hold.
import { filterRegex } from "../config/filters";
import type { UserRegex } from "../config/regex";
import type { JobFilter } from "../model/config";

export class FilterError extends Error {
  override readonly name = "FilterError";
}

export interface CompiledFilter {
  whitelist: ReadonlySet<string> | null;
  whitelistRegex: UserRegex | null;
  blacklist: ReadonlySet<string> | null;
  blacklistRegex: UserRegex | null;
  tagWhitelist: readonly string[];
  /** Names whose hash is at or above this (of 2^32) are dropped; null keeps every name. */
  fractionCutoff: number | null;
}

/** Compiles a filter; throws FilterError for a regex the (linear-time) engine cannot compile. */
export function compileFilter(filter: JobFilter): CompiledFilter {
  const fraction = filter.fractionOfNodes > 0 && filter.fractionOfNodes < 1 ? filter.fractionOfNodes : 1;
  return {
    whitelist: filter.whitelist.length > 0 ? new Set(filter.whitelist) : null,
    whitelistRegex: compileRegex(filter.whitelistRegex),
    blacklist: filter.blacklist.length > 0 ? new Set(filter.blacklist) : null,
    blacklistRegex: compileRegex(filter.blacklistRegex),
    tagWhitelist: filter.tagWhitelist,
    fractionCutoff: fraction < 1 ? fraction * 2 ** 32 : null,
  };
}

function compileRegex(source: string | null): UserRegex | null {
  if (source === null || source === "") return null;
  try {
    return filterRegex(source);
  } catch (error) {
    throw new FilterError(`Invalid regex ${source}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** True when the filter keeps every node, so the round can skip it. */
export function isTrivialFilter(filter: CompiledFilter): boolean {
  return (
    filter.whitelist === null &&
    filter.whitelistRegex === null &&
    filter.blacklist === null &&
    filter.blacklistRegex === null &&
    filter.tagWhitelist.length === 0 &&
    filter.fractionCutoff === null
  );
}

/** The name conditions: white/black lists, regexes (searched, not anchored) and the fraction. */
export function passesName(filter: CompiledFilter, jobName: string, name: string): boolean {
  return (
    (filter.whitelist === null || filter.whitelist.has(name)) &&
    (filter.whitelistRegex === null || filter.whitelistRegex.test(name)) &&
    (filter.blacklist === null || !filter.blacklist.has(name)) &&
    (filter.blacklistRegex === null || !filter.blacklistRegex.test(name)) &&
    (filter.fractionCutoff === null || stableHash(name, jobName) < filter.fractionCutoff)
  );
}

/** A data node passes when its name passes and it carries at least one whitelisted tag (if any are listed). */
export function passesNode(filter: CompiledFilter, jobName: string, name: string, tags: readonly string[]): boolean {
  return (
    passesName(filter, jobName, name) &&
    (filter.tagWhitelist.length === 0 || filter.tagWhitelist.some((tag) => tags.includes(tag)))
  );
}

/**
 * FNV-1a (32 bits) of `name`, NUL, `salt`, then murmur3's finalizer so similar names spread
 * evenly: stable across runs and machines, uniform over [0, 2^32).
 */
export function stableHash(name: string, salt: string): number {
  let hash = fnvMix(0x811c9dc5, name);
  hash = Math.imul(hash, 0x01000193); // the NUL separator
  hash = fnvMix(hash, salt);
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) >>> 0;
}

function fnvMix(start: number, text: string): number {
  let hash = start;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash;
}
