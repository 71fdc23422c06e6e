// The `statuses` log stream: each task attempt's lifecycle as one JSON object per line, written
// through the same log sink as its output, so `task_logs` with `logtype=statuses` (and `sous logs
// --type statuses`) read it back. As in Bistro, every event names its `event` and the worker
// (`worker_host`, `worker`, `worker_instance`); events after a status line was read carry
// `raw_status`. Events: `running`, `task_failed_to_start`, `killed`, `got_status`,
// `process_exited`, `lost` (the worker gave up on its scheduler and killed the task), `refused`,
// `timed_out` (killed past the job's `attempt_duration_seconds`).
import type { KillRequest } from "../model/config";
import { errorText } from "./error-text";
import type { LogSink } from "./log-sink";
import type { TaskResult } from "./task-process";

export interface TaskRef {
  job: string;
  node: string;
  attempt: string;
  /** The attempt's token: its status lines are recorded under it like its output. */
  token: string;
}

export type TaskStatusEvent =
  | { event: "running"; command: string[]; pid?: number }
  | { event: "task_failed_to_start"; message: string }
  | { event: "killed"; request: KillRequest; reason: string }
  | { event: "got_status"; raw_status: string }
  | { event: "process_exited"; exit_code: number | null; signal: string | null; killed: boolean; raw_status?: string }
  | { event: "lost"; reason: string }
  | { event: "timed_out"; max_runtime_ms: number }
  | { event: "refused"; reason: string };

export interface StatusLogIdentity {
  workerHost: string;
  workerId: string;
  workerInstance: string;
}

export class TaskStatusLog {
  constructor(
    private readonly logs: LogSink,
    private readonly identity: StatusLogIdentity,
    private readonly clock: () => number,
    private readonly onError: (error: string) => void,
  ) {}

  /** Writes one event. Never waits (status lines are few) and never throws; a failure is reported. */
  write(task: TaskRef, event: TaskStatusEvent): void {
    const text = JSON.stringify({
      ...event,
      worker_host: this.identity.workerHost,
      worker: this.identity.workerId,
      worker_instance: this.identity.workerInstance,
    });
    const line = {
      job: task.job,
      node: task.node,
      attempt: task.attempt,
      token: task.token,
      stream: "statuses" as const,
      text,
    };
    try {
      this.logs.append({ ...line, timeMs: this.clock() })?.catch((error: unknown) => {
        this.onError(errorText(error));
      });
    } catch (error) {
      this.onError(errorText(error));
    }
  }

  /** The events that describe how an attempt ended. */
  ended(task: TaskRef, result: TaskResult): void {
    if (result.spawnError !== undefined) {
      this.write(task, { event: "task_failed_to_start", message: result.spawnError });
      return;
    }
    if (result.timedOutAfterMs !== undefined)
      this.write(task, { event: "timed_out", max_runtime_ms: result.timedOutAfterMs });
    if (result.rawStatus !== undefined) this.write(task, { event: "got_status", raw_status: result.rawStatus });
    this.write(task, {
      event: "process_exited",
      exit_code: result.exitCode,
      signal: result.signal,
      killed: result.killed,
      ...(result.rawStatus === undefined ? {} : { raw_status: result.rawStatus }),
    });
  }
}
