// Task logs through the API: `GET /logs` as friendly JSON over the injected `readLogs`
// (Bistro's task_logs semantics), and `s3LogReader`, which wires the S3 log reader of
// lib/logs into that seam and turns its refusals into validation errors.
import type { AttemptTokens } from "../dispatch/tokens";
import type { S3Client } from "@aws-sdk/client-s3";
import { LogQueryError } from "../logs/query";
import type { LogReaderDeps } from "../logs/reader";
import { readAttemptTokens } from "../store/dispatch-key";
import { MAX_LOG_QUERY_JOBS, MAX_LOG_QUERY_NODES, overLimit } from "../config/limits";
import type { ConfigIssue } from "../model/config";
import type { ApiDeps, LogLinesQuery, ReadLogs } from "./deps";
import { NotConfiguredError, ValidationError } from "./errors";
import type { RouteInput } from "./http";

/**
 * `readLogs` over the S3 segments and DynamoDB index that workers write (lib/logs). The reader and
 * the S3 client (`s3`, called on each query) load on the first query, so the API's cold start
 * does not load the SDK's S3 package.
 */
export function s3LogReader(
  deps: Omit<LogReaderDeps, "attemptTokens" | "s3"> & { s3: () => S3Client | Promise<S3Client> },
): ReadLogs {
  // The dispatch key never changes once created: read it once per process, on the first query.
  let tokens: Promise<AttemptTokens> | undefined;
  const attemptTokens = () => {
    tokens ??= readAttemptTokens({ doc: deps.doc, tableName: deps.tableName }).catch((error: unknown) => {
      tokens = undefined;
      throw error;
    });
    return tokens;
  };
  return async (query) => {
    try {
      const { readLogs } = await import("../logs/reader");
      return await readLogs({ ...deps, s3: await deps.s3(), attemptTokens }, query);
    } catch (error) {
      if (error instanceof LogQueryError) throw new ValidationError(error.message);
      throw error;
    }
  };
}

export const LOG_TYPES = ["stdout", "stderr", "statuses"] as const;

/** Refuses job or node lists over their limits (each name costs index reads). */
export function checkLogQueryLists(query: Pick<LogLinesQuery, "jobs" | "nodes">): void {
  const issues: ConfigIssue[] = [];
  const jobs = query.jobs?.length ?? 0;
  const nodes = query.nodes?.length ?? 0;
  if (jobs > MAX_LOG_QUERY_JOBS)
    issues.push({ path: "jobs", message: overLimit("the number of jobs", jobs, "MAX_LOG_QUERY_JOBS") });
  if (nodes > MAX_LOG_QUERY_NODES) {
    issues.push({ path: "nodes", message: overLimit("the number of nodes", nodes, "MAX_LOG_QUERY_NODES") });
  }
  if (issues.length > 0) throw new ValidationError(issues.map((issue) => issue.message).join("; "), issues);
}

/** `GET /logs?job&node&type&cursor&sort&time&regex&limit`; `job` and `node` may repeat. */
export async function getLogs(deps: ApiDeps, input: RouteInput) {
  if (!deps.readLogs) throw new NotConfiguredError("Task logs are not configured in this deployment (no log bucket).");
  const { query } = input;
  const time = query.int("time", { min: 0, max: Number.MAX_SAFE_INTEGER });
  const cursor = query.get("cursor");
  const sort = query.get("sort");
  const regex = query.get("regex");
  const limit = query.int("limit", { min: 1, max: Number.MAX_SAFE_INTEGER });
  const logQuery: LogLinesQuery = {
    logType: query.oneOf("type", LOG_TYPES) ?? "stdout",
    jobs: query.all("job"),
    nodes: query.all("node"),
    ...(sort ? { sort } : {}),
    ...(time !== undefined ? { time } : {}),
    ...(cursor ? { lineId: cursor } : {}),
    ...(regex ? { regexFilter: regex } : {}),
    ...(limit !== undefined ? { limit } : {}),
  };
  checkLogQueryLists(logQuery);
  const page = await deps.readLogs(logQuery);
  return {
    lines: page.lines.map(([job, node, time, line, lineId]) => ({ job, node, time, line, lineId })),
    nextCursor: page.nextLineId === "-1" ? null : page.nextLineId,
  };
}
