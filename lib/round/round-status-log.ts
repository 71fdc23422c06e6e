// The `statuses` lines the round writes itself: when it ends an attempt whose end never reached
// it (its worker was lost, its live worker no longer lists it, its container stopped unseen), the
// attempt's `statuses` stream says so, with the reason its status got. They go through the same
// log writer, segments and index as a worker's lines, in the round's own folder of the log prefix
// (SCHEDULER_LOG_OWNER; no worker identity can have that name), under the attempt's token.
import type { S3Client } from "@aws-sdk/client-s3";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

import type { AttemptTokens } from "../dispatch/tokens";
import { SCHEDULER_LOG_OWNER } from "../logs/keys";
import type { TaskItem } from "../store/tasks";

/** An attempt the round ended, as its `statuses` line tells it. */
export interface EndedAttempt {
  job: string;
  node: string;
  attempt: string;
  /** The worker (or the container launcher) that held it, and that worker's instance. */
  worker: string;
  workerInstance: string;
  /** The reason its status got (the status's exception text). */
  reason: string;
}

/** Writes the lines of attempts a round ended; never throws (a failure goes to `onError`). */
export type RoundStatusLog = (ended: readonly EndedAttempt[], tokens: AttemptTokens) => Promise<void>;

export interface RoundStatusLogDeps {
  /** Called on the first write only: rounds that end nothing never load S3. */
  s3: () => S3Client | Promise<S3Client>;
  doc: DynamoDBDocumentClient;
  tableName: string;
  bucket: string;
  clock?: () => number;
  onError: (error: unknown) => void;
}

/** The ended attempt of a running item, with the reason its new status gives. */
export function endedAttempt(item: TaskItem, status: { data?: Record<string, unknown> }): EndedAttempt | undefined {
  const running = item.running;
  if (!running) return undefined;
  const exception = status.data?.exception;
  return {
    job: item.job,
    node: item.node,
    attempt: running.attempt,
    worker: running.worker,
    workerInstance: running.workerInstance,
    reason: typeof exception === "string" ? exception : "",
  };
}

/** The `statuses` line of an attempt the round ended: Bistro's shape, as a worker's `lost` line. */
export function endedAttemptLine(ended: EndedAttempt): string {
  return JSON.stringify({
    event: "lost",
    reason: ended.reason,
    by: "scheduler",
    worker_host: "",
    worker: ended.worker,
    worker_instance: ended.workerInstance,
  });
}

export function roundStatusLog(deps: RoundStatusLogDeps): RoundStatusLog {
  const clock = deps.clock ?? Date.now;
  return async (ended, tokens) => {
    if (ended.length === 0) return;
    try {
      const { LogWriter } = await import("../logs/writer");
      const writer = new LogWriter({
        s3: await deps.s3(),
        doc: deps.doc,
        tableName: deps.tableName,
        bucket: deps.bucket,
        workerId: SCHEDULER_LOG_OWNER,
        logOwner: SCHEDULER_LOG_OWNER,
        onError: deps.onError,
      });
      const timeMs = clock();
      for (const attempt of ended) {
        const task = { job: attempt.job, node: attempt.node, attempt: attempt.attempt };
        void writer.append({
          ...task,
          token: tokens(task),
          stream: "statuses",
          text: endedAttemptLine(attempt),
          timeMs,
        });
      }
      await writer.close();
    } catch (error) {
      deps.onError(error);
    }
  };
}
