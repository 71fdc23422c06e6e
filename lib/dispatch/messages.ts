// The messages that cross SQS: start and kill orders on each worker's queue, and task
// statuses on the status queue. One zod schema each, used by the sender and the receiver,
// so a malformed message is named precisely and never half-applied.
import { z } from "zod";
import { MAX_SECRET_LENGTH } from "./tokens";

/** Largest per-task memory limit a start order carries (1 PiB in MB): more is a unit mistake. */
export const MAX_TASK_MEMORY_MB = 1_073_741_824;
/** Largest per-task CPU weight in cores (cpu.weight 10000 = 100 cores; more is clamped anyway). */
export const MAX_TASK_CPU_CORES = 100_000;

/** The attempt's token (docs/adr/0004): only the worker holding the order knows it. */
const attemptToken = z.string().min(1).max(MAX_SECRET_LENGTH);

const killRequest = z.object({
  method: z.enum(["term", "term_wait_kill", "kill"]),
  killWaitMs: z.number().int().nonnegative(),
});

/** Start one attempt: everything the worker needs to run Bistro's task protocol. */
export const startMessageSchema = z.object({
  type: z.literal("start"),
  job: z.string().min(1),
  node: z.string().min(1),
  attempt: z.string().min(1),
  token: attemptToken,
  /** The worker instance the order is for; another instance of the same worker id refuses it. */
  workerInstance: z.string().min(1).optional(),
  /**
   * Heartbeat lists made at or after this time (ms) must name the attempt while the worker holds
   * it: the scheduler ends an attempt such a list leaves out. So a worker that already sent such a
   * list when the order arrives (a slow order) refuses it: the attempt may have been ended already.
   */
  listDeadlineMs: z.number().int().nonnegative().optional(),
  /** argv prefix from the job's `command`; empty = the worker's own --command. */
  command: z.array(z.string()),
  /** The task JSON (argv[3]): id, config, prev_status, path_to_node, resources_by_node, worker_node... */
  taskJson: z.record(z.string(), z.unknown()),
  /** How to kill this task when asked, and on worker shutdown. */
  killRequest,
  /** Bistro task_subprocess options that the worker honours (poll_ms, log line quota). */
  pollMs: z.number().int().positive(),
  maxLogLinesPerPollInterval: z.number().int(),
  /** Signal the task gets if its worker dies (Bistro's `parent_death_signal`; 0 = none). */
  parentDeathSignal: z.number().int().nonnegative().optional(),
  /** The job's `attempt_duration_seconds` in ms: the worker kills an attempt that runs longer. */
  maxRuntimeMs: z.number().int().positive().optional(),
  /** Bistro's `use_canary_pipe` (default true): the task ends only when every holder of an extra pipe exits. */
  useCanaryPipe: z.boolean().optional(),
  /**
   * Run the task in its own cgroup with these limits (docs/worker.md): set when the job lists
   * `task_subprocess.cgroups.subsystems` or `physical_resources` enforce a limit.
   */
  cgroup: z
    .object({
      /** memory.max in MB. */
      memoryMB: z.number().int().positive().max(MAX_TASK_MEMORY_MB).optional(),
      /** cpu.weight, as cores (100 per core). */
      cpuCores: z.number().nonnegative().max(MAX_TASK_CPU_CORES).optional(),
    })
    .optional(),
});
export type StartMessage = z.infer<typeof startMessageSchema>;

/** Stop one running attempt. */
export const killMessageSchema = z.object({
  type: z.literal("kill"),
  job: z.string().min(1),
  node: z.string().min(1),
  attempt: z.string().min(1),
  token: attemptToken,
  request: killRequest,
  reason: z.string(),
});
export type KillMessage = z.infer<typeof killMessageSchema>;

export const workerMessageSchema = z.discriminatedUnion("type", [startMessageSchema, killMessageSchema]);
export type WorkerMessage = z.infer<typeof workerMessageSchema>;

/** How one attempt ended, as the worker saw it; the status line is interpreted centrally. */
export const taskEndSchema = z.object({
  job: z.string().min(1),
  node: z.string().min(1),
  attempt: z.string().min(1),
  worker: z.string().min(1),
  /** The token of the start or kill order; an end without the right one is refused at ingest. */
  token: attemptToken.optional(),
  /** The last line the task wrote to its status file, if any. */
  rawStatus: z.string().optional(),
  /** True when the worker signalled the task (a kill order, shutdown). */
  killed: z.boolean(),
  /** Set when the task could not be started at all. */
  spawnError: z.string().optional(),
  /** The worker was told about this attempt (a kill, a re-sent start it cannot run) but is not running it. */
  notRunning: z.boolean().optional(),
  /** The attempt ran past its job's `attempt_duration_seconds` (this many ms) and was killed. */
  timedOutAfterMs: z.number().int().positive().optional(),
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  endedAtMs: z.number().int().nonnegative(),
});
export type TaskEnd = z.infer<typeof taskEndSchema>;

/** A status-queue message: one or more task ends (workers batch them to save requests). */
export const statusMessageSchema = z.object({
  ends: z.array(taskEndSchema).min(1),
});
export type StatusMessage = z.infer<typeof statusMessageSchema>;

/** Reads a message body, naming every problem when it is not what `schema` expects. */
export function parseMessage<T>(
  schema: z.ZodType<T>,
  body: string,
): { ok: true; value: T } | { ok: false; error: string } {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    return { ok: false, error: `not JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
  const result = schema.safeParse(json);
  if (result.success) return { ok: true, value: result.data };
  return {
    ok: false,
    error: result.error.issues.map((i) => `${i.path.join(".") || "(message)"}: ${i.message}`).join("; "),
  };
}
