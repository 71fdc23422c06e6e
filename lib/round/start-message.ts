// Builds the start order a worker receives: Bistro's task JSON (argv[3]) plus how to run and
// kill the task. Used for first sends and for re-sends of interrupted dispatches, so both
// carry exactly the same content for the same attempt.
import type { Job } from "../model/config";
import { toStatusJson, type TaskStatus } from "../model/status";
import type { StartMessage } from "../dispatch/messages";

export interface StartDetails {
  job: Job;
  node: string;
  attempt: string;
  /** The attempt's token (lib/dispatch/tokens.ts). */
  token: string;
  workerId: string;
  workerInstance: string;
  workerHost: string;
  /** See StartMessage.listDeadlineMs: when the order counts as sent, plus the reconciliation grace. */
  listDeadlineMs: number;
  pathToNode: string[];
  resourcesByNode: Record<string, Record<string, number>>;
  previous: TaskStatus | undefined;
}

export function buildStartMessage(details: StartDetails): StartMessage {
  const { job } = details;
  return {
    type: "start",
    job: job.name,
    node: details.node,
    attempt: details.attempt,
    token: details.token,
    workerInstance: details.workerInstance,
    listDeadlineMs: details.listDeadlineMs,
    command: job.command,
    taskJson: {
      id: job.name,
      config: job.config,
      ...(details.previous ? { prev_status: toStatusJson(details.previous) } : {}),
      path_to_node: details.pathToNode,
      resources_by_node: details.resourcesByNode,
      worker_node: details.workerId,
      worker_host: details.workerHost,
    },
    killRequest: job.killSubprocess,
    pollMs: job.taskSubprocess.pollMs,
    maxLogLinesPerPollInterval: job.taskSubprocess.maxLogLinesPerPollInterval,
    parentDeathSignal: job.taskSubprocess.parentDeathSignal,
    useCanaryPipe: job.taskSubprocess.useCanaryPipe,
    ...(job.attemptDurationSec === null ? {} : { maxRuntimeMs: job.attemptDurationSec * 1000 }),
  };
}
