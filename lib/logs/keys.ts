// Where task logs live: the S3 object keys of segments and the DynamoDB index keys, kept apart
// from lib/store/keys.ts (same table, prefixes that no store item uses). docs/logs.md explains
// the layout and what each query reads.
//
//   pk                      sk                                   what
//   LOGIDX#<job>            <node>#<first line id>#<segment>     one task attempt's byte ranges in a segment
//   LOGJOB#<job>            <first line id>#<segment>            one job's byte ranges in a segment
//   LOGTIME#<YYYY-MM-DD>    <first line id>#<segment>            a segment's stream sections (all-jobs reads)
//
// Line ids in sort keys are zero-padded (19 digits) so that they sort as strings. `#` and `%`
// in node names are escaped, so `<node>#` is an exact prefix.

import { padLineId } from "./line-id";

export const LOG_TASK_INDEX_PREFIX = "LOGIDX#";
export const LOG_JOB_INDEX_PREFIX = "LOGJOB#";
export const LOG_TIME_INDEX_PREFIX = "LOGTIME#";

/** Bistro's --log_retention default (30 days). */
export const DEFAULT_LOG_RETENTION_DAYS = 30;
/** S3 prefix of segment objects; the bucket's lifecycle rule expires objects under it. */
export const DEFAULT_LOG_KEY_PREFIX = "task-logs/";

/**
 * The scheduler round's folder under the log prefix (its `statuses` lines of attempts it ended).
 * On AWS workers may write only their IAM user id's folder (`AIDA…`, `AROA…:session`), which
 * never starts with `_`. Off AWS a worker's folder is its worker id; segment names are random
 * there too, so no segment is overwritten.
 */
export const SCHEDULER_LOG_OWNER = "_scheduler";

/**
 * No segment holds lines further apart than this (the writer seals a segment before it would), so
 * a reader looking for lines from id B on needs index entries whose first id is ≥ B minus this.
 */
export const MAX_SEGMENT_SPAN_SEC = 10;
export const MAX_SEGMENT_SPAN_ID = BigInt(MAX_SEGMENT_SPAN_SEC) << 32n;

/** `%` then `#`, so the escape is reversible and an escaped name never contains `#`. */
export function escapeKeyPart(name: string): string {
  return name.replace(/%/g, "%25").replace(/#/g, "%23");
}

export const logTaskPk = (job: string) => `${LOG_TASK_INDEX_PREFIX}${job}`;
export const logJobPk = (job: string) => `${LOG_JOB_INDEX_PREFIX}${job}`;
export const logTimePk = (day: string) => `${LOG_TIME_INDEX_PREFIX}${day}`;

export const logTaskSk = (node: string, firstId: bigint, segment: string) =>
  `${escapeKeyPart(node)}#${padLineId(firstId)}#${segment}`;
export const logSegmentSk = (firstId: bigint, segment: string) => `${padLineId(firstId)}#${segment}`;

/** Inclusive sort-key bounds covering first ids in [low, high], under an optional node prefix. */
export function firstIdSkRange(low: bigint, high: bigint, node?: string): [string, string] {
  const prefix = node === undefined ? "" : `${escapeKeyPart(node)}#`;
  // "$" sorts right after "#", so the upper bound includes every segment suffix of `high`.
  return [`${prefix}${padLineId(low)}`, `${prefix}${padLineId(high)}$`];
}

export const SECONDS_PER_DAY = 86400;

/** The UTC day of a time in seconds: the LOGTIME partition of segments that start then. */
export function dayBucket(sec: number): string {
  return new Date(Math.floor(sec / SECONDS_PER_DAY) * SECONDS_PER_DAY * 1000).toISOString().slice(0, 10);
}

/** The day partitions from `fromSec` to `toSec` inclusive, in the given direction. */
export function dayBuckets(fromSec: number, toSec: number, ascending: boolean): { day: string; startSec: number }[] {
  const first = Math.floor(fromSec / SECONDS_PER_DAY);
  const last = Math.floor(toSec / SECONDS_PER_DAY);
  const days: { day: string; startSec: number }[] = [];
  for (let day = first; day <= last; day++) {
    const startSec = day * SECONDS_PER_DAY;
    days.push({ day: dayBucket(startSec), startSec });
  }
  return ascending ? days : days.reverse();
}

/**
 * S3 key of one segment, in its owner's folder: on AWS the writer's IAM identity (`aws:userid`,
 * e.g. `AROA…:session`), the only folder its policy lets it write; elsewhere its worker id. The
 * characters IAM user ids use are kept as they are, so the key matches the policy's
 * `${aws:userid}`; any other is replaced. The segment name makes the key unique.
 */
export function segmentObjectKey(prefix: string, owner: string, segment: string): string {
  const safeOwner = owner.replace(/[^A-Za-z0-9_.:@=,+-]/g, "_") || "_";
  return `${prefix}${safeOwner}/${segment}.seg`;
}
