// Where a log query's lines are: the index partitions to read (per task, per job, or per day) and
// a paged reader of each, in first-id order, with the frontier the merge in ./reader.ts relies on.

import { QueryCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

import { parseIndexItem, type IndexEntry } from "./index-items";
import {
  dayBuckets,
  DEFAULT_LOG_RETENTION_DAYS,
  firstIdSkRange,
  logJobPk,
  logTaskPk,
  logTimePk,
  MAX_SEGMENT_SPAN_ID,
  SECONDS_PER_DAY,
} from "./keys";
import { lineIdFromTime, lineIdTimeSec, MAX_LINE_ID } from "./line-id";
import type { ParsedLogQuery } from "./query";

/** Where the index is, and how far back it reaches. */
export interface IndexReaderDeps {
  doc: DynamoDBDocumentClient;
  tableName: string;
  /** How far back day partitions are searched; must be at least the writers' retention. Default 30. */
  retentionDays?: number;
}

/** Up to this many (job, node) pairs are read through the task index; more go through the job index. */
const MAX_TASK_SOURCES = 64;
/**
 * Up to this many jobs are read through the job index; more go through the day index (filtering
 * lines by job), so a long job list costs a few partitions, not one query per job.
 */
const MAX_JOB_SOURCES = 64;
const QUERY_PAGE_ITEMS = 200;

interface Partition {
  pk: string;
  sk: [string, string];
  /** Once this partition is read, every later entry starts at or after (asc) / at or before (desc) this id. */
  doneFrontier?: bigint;
}

/** Index entries of some partitions, in first-id order (partitions are given in that order). */
export class IndexSource {
  /** First id of the last entry read: unread entries start at or after it (asc), at or before it (desc). */
  frontier: bigint | undefined;
  exhausted = false;
  private partition = 0;
  private startKey: Record<string, unknown> | undefined;

  constructor(
    private readonly deps: IndexReaderDeps,
    private readonly partitions: readonly Partition[],
    private readonly ascending: boolean,
  ) {
    if (partitions.length === 0) this.exhausted = true;
  }

  /** The next page of entries; empty when a partition (or the source) has been read to its end. */
  async nextPage(): Promise<IndexEntry[]> {
    for (;;) {
      const partition = this.partitions[this.partition];
      if (partition === undefined) {
        this.exhausted = true;
        return [];
      }
      const result = await this.deps.doc.send(
        new QueryCommand({
          TableName: this.deps.tableName,
          KeyConditionExpression: "pk = :pk AND sk BETWEEN :low AND :high",
          ExpressionAttributeValues: { ":pk": partition.pk, ":low": partition.sk[0], ":high": partition.sk[1] },
          ScanIndexForward: this.ascending,
          Limit: QUERY_PAGE_ITEMS,
          ...(this.startKey ? { ExclusiveStartKey: this.startKey } : {}),
        }),
      );
      this.startKey = result.LastEvaluatedKey;
      // Items a newer writer wrote in a shape this reader cannot read are skipped.
      const entries = (result.Items ?? []).flatMap((item) => parseIndexItem(item) ?? []);
      const last = entries[entries.length - 1];
      if (last !== undefined) this.frontier = last.firstId;
      if (this.startKey === undefined) {
        this.partition += 1;
        // An empty day moves the frontier too, so a page need not wait for every older day to be read.
        if (partition.doneFrontier !== undefined && this.partition < this.partitions.length) {
          this.frontier = partition.doneFrontier;
        }
        return entries;
      }
      if (last !== undefined) return entries;
    }
  }
}

/** Which index partitions can hold the query's lines, each with the first-id range to read. */
export function planSources(deps: IndexReaderDeps, query: ParsedLogQuery, nowSec: number): IndexSource[] {
  const retentionSec = (deps.retentionDays ?? DEFAULT_LOG_RETENTION_DAYS) * 86400;
  const oldestSec = nowSec - retentionSec - 86400;
  const oldestId = lineIdFromTime(Math.max(0, oldestSec), true);
  let low = query.ascending ? query.bound - MAX_SEGMENT_SPAN_ID : 0n;
  if (low < oldestId) low = oldestId;
  const high = query.ascending ? MAX_LINE_ID : query.bound;
  if (high < low) return [];
  const { jobs, nodes, ascending } = query;
  if (jobs !== undefined && nodes !== undefined && jobs.size * nodes.size <= MAX_TASK_SOURCES) {
    return [...jobs].flatMap((job) =>
      [...nodes].map(
        (node) => new IndexSource(deps, [{ pk: logTaskPk(job), sk: firstIdSkRange(low, high, node) }], ascending),
      ),
    );
  }
  if (jobs !== undefined && jobs.size <= MAX_JOB_SOURCES) {
    return [...jobs].map(
      (job) => new IndexSource(deps, [{ pk: logJobPk(job), sk: firstIdSkRange(low, high) }], ascending),
    );
  }
  const lastSec = Math.min(lineIdTimeSec(high), nowSec + 86400);
  const sk = firstIdSkRange(low, high);
  const partitions = dayBuckets(lineIdTimeSec(low), lastSec, ascending).map(({ day, startSec }) => ({
    pk: logTimePk(day),
    sk,
    doneFrontier: ascending ? lineIdFromTime(startSec + SECONDS_PER_DAY, true) : lineIdFromTime(startSec, true) - 1n,
  }));
  return [new IndexSource(deps, partitions, ascending)];
}
