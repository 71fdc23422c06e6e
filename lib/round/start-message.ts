// Builds the start order a worker receives: Bistro's task JSON (argv[3]) plus how to run and
// kill the task. Used for first sends and for re-sends of interrupted dispatches, so both
// carry exactly the same content for the same attempt.
import type { Job, Settings } from "../model/config";
import { toStatusJson, type TaskStatus } from "../model/status";
import { MAX_TASK_CPU_CORES, MAX_TASK_MEMORY_MB, type StartMessage } from "../dispatch/messages";

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
  /** The config's `physical_resources`: which enforce per-task limits. Default none. */
  physicalResources?: Settings["physicalResources"];
}

/**
 * The start order's `cgroup`: a task gets its own cgroup when its job lists cgroup subsystems or a
 * `physical_resources` entry enforces a limit (`ram_mb` hard: memory, `cpu_core` soft: CPU weight),
 * amount = round(multiply_logical_by x the job's amount of the logical resource on its worker).
 * A zero memory amount sets no memory limit (a task cannot run in 0 bytes); zero cores, the least weight.
 */
export function taskCgroupRequest(
  job: Job,
  physical: Settings["physicalResources"],
  workerAmounts: Record<string, number> | undefined,
): StartMessage["cgroup"] {
  const amountOf = (type: string): number | undefined => {
    const spec = physical[type];
    if (!spec) return undefined;
    const wanted =
      (type === "ram_mb" && spec.enforcement === "hard") || (type === "cpu_core" && spec.enforcement === "soft");
    return wanted ? Math.round(spec.multiplyLogicalBy * (workerAmounts?.[spec.logicalResource] ?? 0)) : undefined;
  };
  const memoryMB = amountOf("ram_mb");
  const cpuCores = amountOf("cpu_core");
  if (memoryMB === undefined && cpuCores === undefined && job.taskSubprocess.cgroups.subsystems.length === 0) {
    return undefined;
  }
  return {
    ...(memoryMB !== undefined && memoryMB > 0 ? { memoryMB: Math.min(memoryMB, MAX_TASK_MEMORY_MB) } : {}),
    ...(cpuCores !== undefined ? { cpuCores: Math.min(cpuCores, MAX_TASK_CPU_CORES) } : {}),
  };
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
    ...withCgroup(taskCgroupRequest(job, details.physicalResources ?? {}, details.resourcesByNode[details.workerId])),
  };
}

function withCgroup(cgroup: StartMessage["cgroup"]): Pick<StartMessage, "cgroup"> {
  return cgroup === undefined ? {} : { cgroup };
}
