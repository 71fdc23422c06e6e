// Registering a worker instance: sets up its task cgroups, registers with the control plane
// (resources, measured machine, heartbeat period), and builds what the answer configures: the
// inbox on its queue, liveness with the self-deadlines derived from the scheduler's timings, and
// the sender of task ends to the status queue. The daemon (./daemon.ts) runs them.
import type { SQSClient } from "@aws-sdk/client-sqs";
import { sendBatched } from "../dispatch/sqs";
import type { WorkerDeps } from "./worker-deps";
import { EndSender } from "./end-sender";
import { SqsInbox, type WorkerInbox } from "./inbox";
import { Liveness } from "./liveness";
import { selfDeadlines } from "./lost-safety";
import { detectMachineResources } from "./machine-resources";
import { hostCgroupFs, setUpTaskCgroups, TaskCgroups } from "./task-cgroups";
import type { CompiledWorkerOptions } from "./worker-options";
import type { WorkerEvent } from "./worker-events";

/** Said at every start: Bistro settings the worker does not apply. */
export const IGNORED_SETTINGS_WARNINGS = [
  "task_subprocess.process_group_leader is ignored: every task always leads its own process group",
];

export interface Registration {
  queueUrl: string;
  /** When the registration was sent: orders sent before it are for an older instance. */
  registeredAtMs: number;
  inbox: WorkerInbox;
  liveness: Liveness;
  endSender: EndSender;
  cgroups: TaskCgroups;
}

export interface RegistrationHooks {
  clock: () => number;
  emit: (event: WorkerEvent) => void;
  /** What each heartbeat lists as held by this instance. */
  listedAttempts: (sentAtMs: number) => { running?: string[]; sentAtMs?: number };
  /** Liveness gave up: the scheduler is silent or refuses this instance. */
  onGiveUp: (reason: "silence" | "rejected", detail: string) => void;
}

/** Registers and wires the parts; rejects if the control plane refuses or cannot be reached. */
export async function registerWorker(
  deps: WorkerDeps,
  options: CompiledWorkerOptions,
  hooks: RegistrationHooks,
): Promise<Registration> {
  const { clock, emit } = hooks;
  const cgroups = await (deps.taskCgroups ?? (() => defaultTaskCgroups(options)))();
  // Taken before the call, so it is never later than the control plane's own record of it.
  const sentAtMs = clock();
  const answer = await deps.controlPlane.register({
    id: options.id,
    hostname: options.hostname,
    instanceId: options.instanceId,
    resources: options.resources,
    machine: await (deps.machine ?? detectMachineResources)(),
    heartbeatPeriodSec: options.heartbeatPeriodSec,
  });
  const deadlines = selfDeadlines(answer.timings, options.heartbeatPeriodSec, options.killWaitMs);
  const sqs = deps.sqs;
  const inbox =
    deps.inbox?.(answer.queueUrl) ?? new SqsInbox(sqs as SQSClient, answer.queueUrl, options.receiveWaitSec);
  const liveness = new Liveness(
    {
      heartbeat: () =>
        deps.controlPlane.heartbeat({
          id: options.id,
          instanceId: options.instanceId,
          secret: answer.heartbeatSecret,
          ...hooks.listedAttempts(clock()),
        }),
      clock,
      emit,
      onGiveUp: hooks.onGiveUp,
    },
    {
      heartbeatPeriodMs: options.heartbeatPeriodSec * 1000,
      suicideAfterMs: deadlines.suicideAfterMs,
      registeredAtMs: sentAtMs, // a registration counts as the first heartbeat
    },
  );
  const endSender = new EndSender({
    queueUrl: answer.statusQueueUrl,
    send: deps.sendBodies ?? ((url, bodies) => sendBatched(sqs as SQSClient, url, bodies)),
    windowMs: options.endBatchWindowMs,
    onSendFailed: (failure) => {
      emit({ type: "ends_send_failed", ...failure });
    },
  });
  emit({
    type: "registered",
    atMs: sentAtMs,
    id: options.id,
    instanceId: options.instanceId,
    queueUrl: answer.queueUrl,
    timings: answer.timings,
    ...deadlines,
    taskLimits: cgroups.describe(),
  });
  if (!cgroups.support.enforced) emit({ type: "warning", message: cgroups.describe() });
  for (const message of IGNORED_SETTINGS_WARNINGS) emit({ type: "warning", message });
  return { queueUrl: answer.queueUrl, registeredAtMs: sentAtMs, inbox, liveness, endSender, cgroups };
}

function defaultTaskCgroups(options: CompiledWorkerOptions): Promise<TaskCgroups> {
  const { cgroupRoot, taskPidsMax } = options;
  if (cgroupRoot === null) {
    return Promise.resolve(
      new TaskCgroups({ enforced: false, reason: "turned off (--no-cgroups)" }, hostCgroupFs, undefined),
    );
  }
  return setUpTaskCgroups({ root: cgroupRoot, ...(taskPidsMax === undefined ? {} : { pidsMax: taskPidsMax }) });
}
