// What the worker daemon (./daemon.ts) is given and what it hands back: its dependencies, each
// replaceable in tests, and the handle of a running worker.
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { MachineResources } from "../model/config";
import type { ControlPlane } from "./control-plane";
import type { SendBodies } from "./end-sender";
import type { WorkerInbox } from "./inbox";
import type { LogSink } from "./log-sink";
import type { TaskCgroups } from "./task-cgroups";
import type { WorkerEvent, WorkerExit } from "./worker-events";

export interface WorkerDeps {
  controlPlane: ControlPlane;
  /** Receives and deletes the worker's messages, and sends ends, unless `inbox`/`sendBodies` replace it. */
  sqs?: SQSClient;
  logs: LogSink;
  /** The worker's inbox, given its queue URL from the registration. Default: `SqsInbox` over `sqs`. */
  inbox?: (queueUrl: string) => WorkerInbox;
  /** How bodies reach the status queue. Default: `sendBatched` over `sqs`. */
  sendBodies?: SendBodies;
  /** Measures the machine for registration. Default: `detectMachineResources` (cores, memory, nvidia-smi). */
  machine?: () => Promise<MachineResources>;
  /** Sets up per-task cgroups. Default: `setUpTaskCgroups` at the `cgroupRoot` option. */
  taskCgroups?: () => Promise<TaskCgroups>;
  /** Wall-clock milliseconds. Default `Date.now`. Also compared with SQS's SentTimestamp. */
  clock?: () => number;
  /** Everything the worker decides, as structured events. Default: one JSON line each on stderr. */
  onEvent?: (event: WorkerEvent) => void;
}

export interface WorkerHandle {
  readonly id: string;
  readonly instanceId: string;
  readonly queueUrl: string;
  /** Settles when the worker has exited (never rejects). */
  readonly done: Promise<WorkerExit>;
  /**
   * First call: stop receiving, then (graceful) let running tasks finish for up to `shutdownWaitMs`,
   * or kill them now per their kill request; send their ends, flush the logs, exit. A second call
   * SIGKILLs whatever still runs. Returns `done`.
   */
  stop(options?: { graceful?: boolean }): Promise<WorkerExit>;
  /** Attempts running now. */
  runningAttempts(): string[];
}
