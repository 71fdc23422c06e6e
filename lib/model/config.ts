// The validated, typed form of a Bistro config: settings, jobs, resources, backoff, filters.
// lib/config parses Bistro's JSON into these; the scheduler reads only these. Field names are
// camelCase here; the Bistro JSON names are given where they differ.

/** The root level; it always has exactly one node. */
export const INSTANCE_LEVEL = "instance";
/** The implicit level below the data levels: one node per registered worker. */
export const WORKER_LEVEL = "worker";

/** Resource name -> amount (integers, as in Bistro). */
export type ResourceAmounts = Record<string, number>;

/** One resource of one level (`resources.LEVEL.NAME`). */
export interface ResourceSpec {
  /** Capacity of each node of the level. */
  limit: number;
  /** Amount every job uses unless it overrides it. */
  default: number;
  /** Only used by the `busiest` worker selector. */
  weight: number;
}

export type SchedulerPolicyName = "roundrobin" | "ranked_priority" | "randomized_priority" | "long_tail";
export type NodeOrder = "original" | "lexicographic" | "random";
export type WorkerSelectorName = "roundrobin" | "busiest";

/** A backoff ladder: strictly increasing positive seconds, then what happens after the last. */
export interface BackoffSettings {
  values: number[];
  /** "repeat": keep using the last value; "fail": the next error is permanent. */
  end: "repeat" | "fail";
}

export interface CgroupOptions {
  root: string;
  slice: string;
  subsystems: string[];
  killWithoutFreezer: boolean;
}

/** `task_subprocess`. */
export interface TaskSubprocessOptions {
  pollMs: number;
  maxLogLinesPerPollInterval: number;
  parentDeathSignal: number;
  processGroupLeader: boolean;
  useCanaryPipe: boolean;
  cgroups: CgroupOptions;
}

export type KillMethod = "term" | "term_wait_kill" | "kill";

/** `kill_subprocess`. */
export interface KillRequest {
  method: KillMethod;
  killWaitMs: number;
}

/** One entry of `nodes.node_sources`. */
export interface NodeSourceSpec {
  source: string;
  prefs: Record<string, unknown>;
}

/** `physical_resources.PHYS`. */
export interface PhysicalResourceSpec {
  logicalResource: string;
  multiplyLogicalBy: number;
  physicalReserveAmount: number;
  enforcement: "none" | "soft" | "hard";
}

/** `bistro_settings`. */
export interface Settings {
  enabled: boolean;
  workingWaitSec: number;
  idleWaitSec: number;
  scheduler: SchedulerPolicyName;
  remoteWorkerSelector: WorkerSelectorName;
  backoff: BackoffSettings;
  /** Configured data levels, top first, without `instance` and `worker`. */
  levels: string[];
  nodeSources: NodeSourceSpec[];
  nodeOrder: NodeOrder;
  /** level name (incl. `instance` and `worker`) -> resource name -> spec. */
  resources: Record<string, Record<string, ResourceSpec>>;
  levelForTasks: string;
  /** Seconds after which a running orphan is killed; null = never (Bistro's default). */
  killOrphanTasksAfterSec: number | null;
  taskSubprocess: TaskSubprocessOptions;
  killSubprocess: KillRequest;
  /** Worker key (`host:port`, `host` or worker id) -> worker resource -> capacity. */
  workerResourcesOverride: Record<string, ResourceAmounts>;
  /** `ram_mb` | `cpu_core` | `gpu_card` -> mapping. */
  physicalResources: Record<string, PhysicalResourceSpec>;
  exitInitialWaitBeforeTimestamp: number;
}

/** `filters.LEVEL` of a job. */
export interface JobFilter {
  whitelist: string[];
  whitelistRegex: string | null;
  blacklist: string[];
  blacklistRegex: string | null;
  tagWhitelist: string[];
  /** In (0, 1]; 1 keeps every node. */
  fractionOfNodes: number;
}

/** A problem found in a config, located by a JSON path such as `bistro_job->a.resources.cpu`. */
export interface ConfigIssue {
  path: string;
  message: string;
  /** The offending value, when there is one. */
  value?: unknown;
}

/** `bistro_job->NAME`, with every inherited setting resolved. */
export interface Job {
  name: string;
  owner: string;
  enabled: boolean;
  priority: number;
  /** Every configured resource (all levels) -> this job's amount (override or level default). */
  resources: ResourceAmounts;
  config: Record<string, unknown>;
  /** level name -> filter; absent levels do not filter. */
  filters: Record<string, JobFilter>;
  levelForTasks: string;
  levelForHostPlacement: string | null;
  hostPlacement: string | null;
  backoff: BackoffSettings;
  dependsOn: string[];
  killOrphanTasksAfterSec: number | null;
  /** `attempt_duration_seconds`: an attempt running longer is killed and ends in error_backoff; null = no limit. */
  attemptDurationSec: number | null;
  taskSubprocess: TaskSubprocessOptions;
  killSubprocess: KillRequest;
  /** argv prefix replacing the worker's command; empty = the worker's. */
  command: string[];
  createTime: number | null;
  modifyTime: number | null;
  versionId: number | null;
  /** Non-empty means the job is invalid: it is kept and shown, never scheduled. */
  errors: ConfigIssue[];
}

/** A parsed config: valid settings, every job (valid or not), and warnings. */
export interface Config {
  settings: Settings;
  jobs: Record<string, Job>;
  /** Unknown keys, deprecated forms and other things that do not stop the config. */
  warnings: ConfigIssue[];
}

/** A job runs only when it is enabled and has no errors (Bistro's `canRun`). */
export function jobCanRun(job: Job): boolean {
  return job.enabled && job.errors.length === 0;
}
