// The worker daemon's options: what a caller may set, the defaults, and their validation, compiled
// in one step (`compileWorkerOptions`) into the fully resolved form the daemon and its parts read.
// A bad option fails here, before anything registers, with a WorkerOptionsError naming the option;
// its `cause` is the schema's own report.
import { randomUUID } from "node:crypto";
import { hostname as osHostname } from "node:os";
import * as z from "../config/zod";
import type { ResourceAmounts } from "../model/config";
import { MAX_TASK_PIDS } from "./task-cgroups";

export interface WorkerOptions {
  /** The worker id (Bistro's shard); one live instance per id. */
  id: string;
  /** The worker's `--command PATH`, run when a job has no command of its own. */
  command: string;
  /** Tasks run in `<dataDir>/jobs/<job>`. */
  dataDir: string;
  resources?: ResourceAmounts;
  /** Default: the machine's hostname. */
  hostname?: string;
  /** Default: a random UUID; unique per process start. */
  instanceId?: string;
  /** Default 15 (Bistro's `--heartbeat_period_sec`). */
  heartbeatPeriodSec?: number;
  /** ReceiveMessage long-poll, at most 20 s (SQS's limit). Default 20. */
  receiveWaitSec?: number;
  /** Ends that finish within this window share one SendMessageBatch. Default 100 ms. */
  endBatchWindowMs?: number;
  /** On a graceful stop, how long running tasks may take to finish before they are killed. Default 20 s. */
  shutdownWaitMs?: number;
  /**
   * SIGTERM-to-SIGKILL wait when the worker kills its tasks on its own account (lost, replaced), and
   * the longest a task may ignore its own kill request on shutdown. Default 5000 (Bistro's
   * `--CAUTION_worker_suicide_task_kill_wait_ms`).
   */
  killWaitMs?: number;
  /** At exit, how long to keep retrying unsent ends. Default 30 s. */
  endsDrainTimeoutMs?: number;
  /** Environment the tasks inherit (before SOUS_*). Default `process.env`. */
  baseEnv?: NodeJS.ProcessEnv;
  /** Where cgroup2 is mounted, for per-task limits; null turns them off. Default /sys/fs/cgroup. */
  cgroupRoot?: string | null;
  /** `pids.max` of every task's cgroup (where limits are enforced). Default none. */
  taskPidsMax?: number;
}

/** Every option resolved; what the daemon reads. */
export interface CompiledWorkerOptions {
  id: string;
  command: string;
  dataDir: string;
  resources: ResourceAmounts;
  hostname: string;
  instanceId: string;
  heartbeatPeriodSec: number;
  receiveWaitSec: number;
  endBatchWindowMs: number;
  shutdownWaitMs: number;
  killWaitMs: number;
  endsDrainTimeoutMs: number;
  cgroupRoot: string | null;
  taskPidsMax?: number | undefined;
  baseEnv?: NodeJS.ProcessEnv;
}

export class WorkerOptionsError extends RangeError {
  override readonly name = "WorkerOptionsError";
}

export const WORKER_OPTION_DEFAULTS = {
  heartbeatPeriodSec: 15,
  receiveWaitSec: 20,
  endBatchWindowMs: 100,
  shutdownWaitMs: 20_000,
  killWaitMs: 5000,
  endsDrainTimeoutMs: 30_000,
  cgroupRoot: "/sys/fs/cgroup",
} as const;

/** Longest wait any duration option may ask for (a day): longer is a unit mistake, not a wish. */
const MAX_DURATION_MS = 86_400_000;

const durationMs = z.int().check(z.minimum(0), z.maximum(MAX_DURATION_MS));
const nonEmpty = z.string().check(z.minLength(1));

const schema = z.object({
  id: nonEmpty,
  command: z.string(),
  dataDir: nonEmpty,
  resources: z.record(z.string(), z.int().check(z.minimum(0))),
  hostname: nonEmpty,
  instanceId: nonEmpty,
  // The API's registration limit.
  heartbeatPeriodSec: z.number().check(z.positive(), z.maximum(3600)),
  receiveWaitSec: z.int().check(z.minimum(0), z.maximum(20)),
  endBatchWindowMs: durationMs,
  shutdownWaitMs: durationMs,
  killWaitMs: durationMs,
  endsDrainTimeoutMs: durationMs,
  cgroupRoot: z.nullable(z.string().check(z.minLength(1), z.startsWith("/", "must be an absolute path"))),
  taskPidsMax: z.optional(z.int().check(z.minimum(1), z.maximum(MAX_TASK_PIDS))),
});

/** Fills in the defaults and validates the result; throws WorkerOptionsError naming each bad option. */
export function compileWorkerOptions(options: WorkerOptions): CompiledWorkerOptions {
  const { baseEnv, ...rest } = options;
  const withDefaults = {
    ...WORKER_OPTION_DEFAULTS,
    ...rest,
    resources: options.resources ?? {},
    hostname: options.hostname ?? osHostname(),
    instanceId: options.instanceId ?? randomUUID(),
  };
  const parsed = schema.safeParse(withDefaults);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".") || "options"}: ${issue.message}`);
    throw new WorkerOptionsError(`Invalid worker options: ${problems.join("; ")}`, { cause: parsed.error });
  }
  return { ...parsed.data, ...(baseEnv ? { baseEnv } : {}) };
}
