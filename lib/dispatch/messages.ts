// The messages that cross SQS: start and kill orders on each worker's queue, and task
// statuses on the status queue. One zod schema each, used by the sender and the receiver,
// so a malformed message is named precisely and never half-applied. Each is built on its first
// parse (z.lazy): building schemas is a large share of a Lambda bundle's load time.
import * as z from "../config/zod";
import { MAX_SECRET_LENGTH } from "./tokens";

/** Largest per-task memory limit a start order carries (1 PiB in MB): more is a unit mistake. */
export const MAX_TASK_MEMORY_MB = 1_073_741_824;
/** Largest per-task CPU weight in cores (cpu.weight 10000 = 100 cores; more is clamped anyway). */
export const MAX_TASK_CPU_CORES = 100_000;

// The parts below are functions, called while a schema is built: nothing is built at import.

/** A required identifier (job, node, attempt, worker). */
const nonEmpty = () => z.string().check(z.minLength(1));

/** The attempt's token (docs/adr/0004): only the worker holding the order knows it. */
const attemptToken = () => z.string().check(z.minLength(1), z.maxLength(MAX_SECRET_LENGTH));

const killRequest = () =>
  z.object({
    method: z.enum(["term", "term_wait_kill", "kill"]),
    killWaitMs: z.int().check(z.nonnegative()),
  });

/** Start one attempt: everything the worker needs to run Bistro's task protocol. */
export const startMessageSchema = z.lazy(() =>
  z.object({
    type: z.literal("start"),
    job: nonEmpty(),
    node: nonEmpty(),
    attempt: nonEmpty(),
    token: attemptToken(),
    /** The worker instance the order is for; another instance of the same worker id refuses it. */
    workerInstance: z.optional(nonEmpty()),
    /**
     * Heartbeat lists made at or after this time (ms) must name the attempt while the worker holds
     * it: the scheduler ends an attempt such a list leaves out. So a worker that already sent such a
     * list when the order arrives (a slow order) refuses it: the attempt may have been ended already.
     */
    listDeadlineMs: z.optional(z.int().check(z.nonnegative())),
    /** argv prefix from the job's `command`; empty = the worker's own --command. */
    command: z.array(z.string()),
    /** The task JSON (argv[3]): id, config, prev_status, path_to_node, resources_by_node, worker_node... */
    taskJson: z.record(z.string(), z.unknown()),
    /** How to kill this task when asked, and on worker shutdown. */
    killRequest: killRequest(),
    /** Bistro task_subprocess options that the worker honours (poll_ms, log line quota). */
    pollMs: z.int().check(z.positive()),
    maxLogLinesPerPollInterval: z.int(),
    /** Signal the task gets if its worker dies (Bistro's `parent_death_signal`; 0 = none). */
    parentDeathSignal: z.optional(z.int().check(z.nonnegative())),
    /** The job's `attempt_duration_seconds` in ms: the worker kills an attempt that runs longer. */
    maxRuntimeMs: z.optional(z.int().check(z.positive())),
    /** Bistro's `use_canary_pipe` (default true): the task ends only when every holder of an extra pipe exits. */
    useCanaryPipe: z.optional(z.boolean()),
    /**
     * Run the task in its own cgroup with these limits (docs/worker.md): set when the job lists
     * `task_subprocess.cgroups.subsystems` or `physical_resources` enforce a limit.
     */
    cgroup: z.optional(
      z.object({
        /** memory.max in MB. */
        memoryMB: z.optional(z.int().check(z.positive(), z.maximum(MAX_TASK_MEMORY_MB))),
        /** cpu.weight, as cores (100 per core). */
        cpuCores: z.optional(z.number().check(z.nonnegative(), z.maximum(MAX_TASK_CPU_CORES))),
      }),
    ),
  }),
);
export type StartMessage = z.infer<typeof startMessageSchema>;

/** Stop one running attempt. */
export const killMessageSchema = z.lazy(() =>
  z.object({
    type: z.literal("kill"),
    job: nonEmpty(),
    node: nonEmpty(),
    attempt: nonEmpty(),
    token: attemptToken(),
    request: killRequest(),
    reason: z.string(),
  }),
);
export type KillMessage = z.infer<typeof killMessageSchema>;

export const workerMessageSchema = z.lazy(() => z.discriminatedUnion("type", [startMessageSchema, killMessageSchema]));
export type WorkerMessage = z.infer<typeof workerMessageSchema>;

/** How one attempt ended, as the worker saw it; the status line is interpreted centrally. */
export const taskEndSchema = z.lazy(() =>
  z.object({
    job: nonEmpty(),
    node: nonEmpty(),
    attempt: nonEmpty(),
    worker: nonEmpty(),
    /** The token of the start or kill order; an end without the right one is refused at ingest. */
    token: z.optional(attemptToken()),
    /** The last line the task wrote to its status file, if any. */
    rawStatus: z.optional(z.string()),
    /** True when the worker signalled the task (a kill order, shutdown). */
    killed: z.boolean(),
    /** Set when the task could not be started at all. */
    spawnError: z.optional(z.string()),
    /** The worker was told about this attempt (a kill, a re-sent start it cannot run) but is not running it. */
    notRunning: z.optional(z.boolean()),
    /** The attempt ran past its job's `attempt_duration_seconds` (this many ms) and was killed. */
    timedOutAfterMs: z.optional(z.int().check(z.positive())),
    exitCode: z.nullable(z.int()),
    signal: z.nullable(z.string()),
    endedAtMs: z.int().check(z.nonnegative()),
  }),
);
export type TaskEnd = z.infer<typeof taskEndSchema>;

/** A status-queue message: one or more task ends (workers batch them to save requests). */
export const statusMessageSchema = z.lazy(() =>
  z.object({
    ends: z.array(taskEndSchema).check(z.minLength(1)),
  }),
);
export type StatusMessage = z.infer<typeof statusMessageSchema>;

/** Reads a message body, naming every problem when it is not what `schema` expects. */
export function parseMessage<T>(
  schema: z.ZodMiniType<T>,
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
