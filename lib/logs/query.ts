// A `task_logs` query (Bistro's parameters) and its validation: sort, time or line-id bound, log
// type, page limit, regex filter, checked in Bistro's order with Bistro's messages.

import { compileUserRegex, type UserRegex } from "../config/regex";
import { lineIdFromTime, MAX_LINE_ID, NOT_A_LINE_ID, parseLineId } from "./line-id";
import { isLogStream, type LogStream } from "./segment";

/** Bistro's `task_logs` parameters, camel-cased; `attempt` is a Sous extension. */
export interface LogQuery {
  logType: string;
  jobs?: readonly string[];
  nodes?: readonly string[];
  /** "asc" or "desc", any case; default "desc". */
  sort?: string;
  /** Seconds: the first (asc) or last (desc) second to return. Exclusive with `lineId`. */
  time?: number;
  /** Decimal line id: the inclusive bound, usually a previous page's `nextLineId`. "-1" means none. */
  lineId?: string;
  /** A regular expression searched in each line; "" matches all. */
  regexFilter?: string;
  /** Lines per page; default 1000. */
  limit?: number;
  /** Only lines of this task attempt. */
  attempt?: string;
}

/** `[job, node, time in seconds, line, line id]`, as Bistro returns them. */
export type LogLineRow = [job: string, node: string, timeSec: number, line: string, lineId: string];

export interface LogPage {
  /** Pass as `lineId` (same `sort`) for the next page; "-1" when there are no more lines. */
  nextLineId: string;
  lines: LogLineRow[];
}

/** A query Bistro would refuse; the message is Bistro's where Bistro has one. */
export class LogQueryError extends Error {
  override readonly name = "LogQueryError";
}

export const DEFAULT_LOG_PAGE_LIMIT = 1000;
export const MAX_LOG_PAGE_LIMIT = 10000;

export interface ParsedLogQuery {
  stream: LogStream;
  jobs: ReadonlySet<string> | undefined;
  nodes: ReadonlySet<string> | undefined;
  attempt: string | undefined;
  ascending: boolean;
  /** Inclusive bound (already clamped to the id range). */
  bound: bigint;
  regex: UserRegex | undefined;
  limit: number;
}

const nonEmptySet = (values: readonly string[] | undefined) =>
  values !== undefined && values.length > 0 ? new Set(values) : undefined;

/** Validates a query, checking in Bistro's order: sort, time vs line id, log type. */
export function parseLogQuery(query: LogQuery): ParsedLogQuery {
  const sort = (query.sort ?? "desc").toLowerCase();
  if (sort !== "asc" && sort !== "desc") throw new LogQueryError(`Unknown sort order: ${query.sort ?? ""}`);
  const ascending = sort === "asc";
  let bound = NOT_A_LINE_ID;
  if (query.time !== undefined) {
    if (!Number.isInteger(query.time)) throw new LogQueryError(`time must be an integer number of seconds`);
    bound = lineIdFromTime(query.time, ascending);
  }
  if (query.lineId !== undefined) {
    if (query.time !== undefined) throw new LogQueryError("Cannot specify both time and line_id");
    const parsed = parseLineId(query.lineId);
    if (parsed === undefined) throw new LogQueryError(`Invalid line_id: ${query.lineId}`);
    bound = parsed;
  }
  if (!isLogStream(query.logType)) throw new LogQueryError(`Unknown table for logs: ${query.logType}`);
  // As in Bistro, -1 (the "no more lines" cursor) means no bound at all.
  if (bound === NOT_A_LINE_ID) bound = ascending ? 0n : MAX_LINE_ID;
  else if (ascending && bound < 0n) bound = 0n;
  const limit = query.limit ?? DEFAULT_LOG_PAGE_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LOG_PAGE_LIMIT) {
    throw new LogQueryError(`limit must be an integer from 1 to ${MAX_LOG_PAGE_LIMIT}`);
  }
  let regex: UserRegex | undefined;
  if (query.regexFilter !== undefined && query.regexFilter !== "") {
    try {
      // Linear time in each line, whatever the pattern (a backtracking engine could stall here).
      regex = compileUserRegex(query.regexFilter);
    } catch (error) {
      throw new LogQueryError(`Invalid regex_filter: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return {
    stream: query.logType,
    jobs: nonEmptySet(query.jobs),
    nodes: nonEmptySet(query.nodes),
    attempt: query.attempt,
    ascending,
    bound,
    regex,
    limit,
  };
}
