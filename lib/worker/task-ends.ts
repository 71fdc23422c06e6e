// The end messages a worker sends to status ingestion: the end of an attempt it ran, and the
// "not running" end of one it will not run (refused) or never saw (a kill for it).
import type { StartMessage, TaskEnd } from "../dispatch/messages";
import type { TaskResult } from "./task-process";

/** How an attempt that ran here ended; the token proves to ingestion that this worker held it. */
export function endOfTask(message: StartMessage, result: TaskResult, workerId: string): TaskEnd {
  const { job, node, attempt, token } = message;
  return {
    job,
    node,
    attempt,
    worker: workerId,
    token,
    ...(result.rawStatus === undefined ? {} : { rawStatus: result.rawStatus }),
    killed: result.killed,
    ...(result.spawnError === undefined ? {} : { spawnError: result.spawnError }),
    ...(result.timedOutAfterMs === undefined ? {} : { timedOutAfterMs: result.timedOutAfterMs }),
    exitCode: result.exitCode,
    signal: result.signal,
    endedAtMs: result.endedAtMs,
  };
}

/** An attempt that is not running here and will not be. */
export function notRunningEnd(
  message: { job: string; node: string; attempt: string; token: string },
  workerId: string,
  nowMs: number,
): TaskEnd {
  return {
    job: message.job,
    node: message.node,
    attempt: message.attempt,
    worker: workerId,
    token: message.token,
    killed: false,
    notRunning: true,
    exitCode: null,
    signal: null,
    endedAtMs: nowMs,
  };
}
