// Everything the worker daemon decides, as structured events (its log), and how it exits.
import type { TaskEnd } from "../dispatch/messages";
import type { KillRequest } from "../model/config";
import type { WorkerTimings } from "../scheduler/worker-health";
import type { LivenessEvent } from "./liveness";

export type ExitReason =
  /** `stop()` was called. */
  | "stopped"
  /** No heartbeat was acknowledged for the self-deadline: the scheduler will soon call this worker lost. */
  | "silence"
  /** The control plane answered a heartbeat with not-ok: replaced or declared lost. */
  | "rejected";

export interface WorkerExit {
  reason: ExitReason;
  detail: string;
  atMs: number;
  /** Ends SQS never accepted (the status queue was unreachable until exit); also in the exit event. */
  unsentEnds: TaskEnd[];
}

export type WorkerEvent =
  | {
      type: "registered";
      atMs: number;
      id: string;
      instanceId: string;
      queueUrl: string;
      timings: WorkerTimings;
      suicideAfterMs: number;
      mustDieAfterMs: number;
      /** Whether tasks get cgroup limits here, and if not why (docs/worker.md). */
      taskLimits: string;
    }
  | LivenessEvent
  /** Something the worker does not do that a Bistro config may ask for. */
  | { type: "warning"; message: string }
  | { type: "task_started"; atMs: number; job: string; node: string; attempt: string }
  | { type: "task_ended"; end: TaskEnd; outputError?: string }
  | { type: "start_ignored"; job: string; node: string; attempt: string; reason: string }
  | { type: "start_refused"; job: string; node: string; attempt: string; reason: string }
  | { type: "kill"; job: string; node: string; attempt: string; request: KillRequest; reason: string; running: boolean }
  | { type: "malformed_message"; messageId: string; error: string }
  | { type: "receive_error"; error: string }
  | { type: "delete_error"; error: string }
  | { type: "ends_send_failed"; ends: number; error: string; consecutiveFailures: number }
  | { type: "log_sink_error"; error: string }
  | { type: "stopping"; atMs: number; graceful: boolean; running: number }
  | { type: "kill_all"; atMs: number; why: string; running: number }
  | { type: "suicide"; atMs: number; reason: "silence" | "rejected"; detail: string; lastAckSentAtMs: number }
  | { type: "tasks_killed"; atMs: number; stillRunning: string[] }
  | { type: "exit"; atMs: number; reason: ExitReason; detail: string; unsentEnds: TaskEnd[] };
