// Bistro's defaults for every optional setting (common.thrift) and the
// allowed values of its enum-like settings. Functions return fresh objects so no parsed config
// shares mutable state with another.
import type {
  BackoffSettings,
  KillMethod,
  KillRequest,
  NodeOrder,
  SchedulerPolicyName,
  TaskSubprocessOptions,
  WorkerSelectorName,
} from "../model/config";

export const SCHEDULER_POLICIES = [
  "roundrobin",
  "ranked_priority",
  "randomized_priority",
  "long_tail",
] as const satisfies readonly SchedulerPolicyName[];
export const NODE_ORDERS = ["original", "lexicographic", "random"] as const satisfies readonly NodeOrder[];
export const WORKER_SELECTORS = ["roundrobin", "busiest"] as const satisfies readonly WorkerSelectorName[];
export const KILL_METHODS = ["term", "term_wait_kill", "kill"] as const satisfies readonly KillMethod[];
export const PHYSICAL_RESOURCES = ["ram_mb", "cpu_core", "gpu_card"] as const;
export type PhysicalResourceName = (typeof PHYSICAL_RESOURCES)[number];
export const ENFORCEMENTS = ["none", "soft", "hard"] as const;
/** Which enforcement each physical resource supports (Bistro's kResourceToSupportedEnforcements). */
export const SUPPORTED_ENFORCEMENTS: Readonly<Record<PhysicalResourceName, readonly string[]>> = {
  cpu_core: ["none", "soft"],
  ram_mb: ["none", "hard"],
  gpu_card: ["none"],
};

export const DEFAULT_WORKING_WAIT_SEC = 0.5;
export const DEFAULT_IDLE_WAIT_SEC = 5;
export const DEFAULT_PRIORITY = 1;

export function defaultBackoff(): BackoffSettings {
  return { values: [15, 30, 60, 300, 900, 3600, 7200, 21600, 86400], end: "repeat" };
}

export function defaultTaskSubprocess(): TaskSubprocessOptions {
  return {
    pollMs: 10,
    maxLogLinesPerPollInterval: 50,
    parentDeathSignal: 9,
    processGroupLeader: false,
    useCanaryPipe: true,
    cgroups: { root: "", slice: "", subsystems: [], killWithoutFreezer: false },
  };
}

export function defaultKillRequest(): KillRequest {
  return { method: "term", killWaitMs: 0 };
}

export function copyTaskSubprocess(options: TaskSubprocessOptions): TaskSubprocessOptions {
  return { ...options, cgroups: { ...options.cgroups, subsystems: [...options.cgroups.subsystems] } };
}

export function copyBackoff(backoff: BackoffSettings): BackoffSettings {
  return { values: [...backoff.values], end: backoff.end };
}
