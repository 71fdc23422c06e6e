// What a worker asks the scheduler side: registration (its queue, the status queue, the
// scheduler's health timings and a heartbeat secret) and heartbeats. `ControlPlane` is the seam:
// the daemon talks only to it. `InProcessControlPlane` answers from the store directly (local
// runs, tests, and the API's worker routes); `HttpControlPlane` calls those routes. A heartbeat
// counts only with the secret its registration returned (and, on AWS, from the registering
// caller): docs/adr/0004-trust-boundaries.md.
import type { SQSClient } from "@aws-sdk/client-sqs";

import { createWorkerQueue, deleteWorkerQueue, restrictWorkerQueue } from "../dispatch/sqs";
import { hashSecret, newSecret, secretMatches } from "../dispatch/tokens";
import type { MachineResources, ResourceAmounts } from "../model/config";
import { BISTRO_WORKER_TIMINGS, workerState, type WorkerTimings } from "../scheduler/worker-health";
import type { StoreContext } from "../store/context";
import { ConflictError, ForbiddenError, NotFoundError } from "../store/errors";
import type { WorkerRecord } from "../model/worker";
import { dynamoStorePorts } from "../store/dynamo-store";
import type { WorkersPort } from "../store/ports";

export interface WorkerRegistration {
  id: string;
  hostname: string;
  /** Unique per worker process start. */
  instanceId: string;
  resources: ResourceAmounts;
  /** The machine's cores, memory and GPUs (machine-resources.ts), for `physical_resources`. */
  machine?: MachineResources | undefined;
  heartbeatPeriodSec: number;
}

/**
 * Where a worker of this deployment stores task output, so a worker needs only the API's address
 * and credentials. `endpoints` are given only by deployments on emulators (`sous local`).
 */
export interface WorkerSetup {
  /** The table holding the log index. */
  tableName: string;
  /** The S3 bucket task output goes to. */
  logBucket: string;
  region?: string;
  endpoints?: WorkerEndpoints;
}

/** Emulator or LocalStack endpoints; an absent service means AWS's own. */
export type WorkerEndpoints = { dynamodb?: string | undefined; sqs?: string | undefined; s3?: string | undefined };

export interface RegistrationAnswer {
  /** WorkerSetup's fields, when the deployment gives them (older APIs do not). */
  tableName?: string | undefined;
  logBucket?: string | undefined;
  region?: string | undefined;
  endpoints?: WorkerSetup["endpoints"] | undefined;
  /** The worker's own queue: start and kill messages. */
  queueUrl: string;
  /** Where the worker sends task ends. */
  statusQueueUrl: string;
  /** The scheduler's health timings; the worker derives its own deadline from them. */
  timings: WorkerTimings;
  /** Every heartbeat of this registration must carry it; only its hash is stored. */
  heartbeatSecret: string;
  /**
   * The folder of the log bucket this worker writes its segments to: its IAM user id, when the API
   * authenticated one (the worker policy lets each identity write its own folder only).
   */
  logOwner?: string | undefined;
}

/** Who sent a request, as the host authenticated it (API Gateway's IAM caller); none locally. */
export interface Caller {
  /** The caller's aws:userid (`AROA…:session` for a role session, `AIDA…` for a user). */
  principal?: string;
}

/** Attempt ids one heartbeat may list; a worker with more in flight sends no list (never a partial one). */
export const MAX_LISTED_ATTEMPTS = 4000;
/** Characters of one listed attempt id. */
export const MAX_ATTEMPT_ID_CHARS = 64;

/** A heartbeat: the registered instance, the secret its registration returned, and its attempts. */
export interface Heartbeat {
  id: string;
  instanceId: string;
  secret: string;
  /**
   * Attempts this instance runs, or ran with their end not yet accepted by the status queue. The
   * round ends an attempt its live worker does not list (after a grace), so lost ends heal.
   * Absent: the worker says nothing about its attempts, and none is ended on its account.
   */
  running?: string[];
  /** The worker's clock when it made the `running` list. */
  sentAtMs?: number;
}

/** Not ok: this instance was replaced or declared lost, so it must kill its tasks and exit. */
export type HeartbeatAnswer = { ok: true } | { ok: false; reason: string };

export interface ControlPlane {
  /** Throws ConflictError when a live instance holds the id. */
  register(registration: WorkerRegistration): Promise<RegistrationAnswer>;
  /**
   * Throws when the answer could not be had (transport, throttling, a refused secret): the
   * heartbeat is simply not acknowledged.
   */
  heartbeat(worker: Heartbeat): Promise<HeartbeatAnswer>;
}

export interface InProcessControlPlaneDeps {
  store: StoreContext;
  /** Worker registrations. Default: those of `store` (lib/store/dynamo-store.ts); tests may pass the in-memory port. */
  workers?: WorkersPort;
  sqs: SQSClient;
  /** Prefix of per-worker queue names (see `workerQueueName`). */
  queuePrefix: string;
  statusQueueUrl: string;
  clock: () => number;
  /** Default: Bistro's (heartbeat 15 s, grace 60 s, lose after 500 s, check interval 5 s). */
  timings?: WorkerTimings;
  /**
   * Give each worker queue a policy: TLS only, and receive/delete/change-visibility for the
   * registering principal only (AWS; emulators do not enforce policies). Default false.
   */
  queuePolicies?: boolean;
  /** Refusals (forged heartbeats, leftover queues that could not be deleted). */
  log?: (event: Record<string, unknown>) => void;
  /** Told to every registering worker (its log table and bucket). */
  setup?: WorkerSetup;
}

/** Silence after which `workerState` calls an instance must_die: the id is free for another instance. */
function mustDieSilenceMs(record: Pick<WorkerRecord, "heartbeatPeriodSec">, timings: WorkerTimings): number {
  return (record.heartbeatPeriodSec + timings.heartbeatGraceSec + timings.loseUnhealthyAfterSec) * 1000;
}

export class InProcessControlPlane implements ControlPlane {
  private readonly timings: WorkerTimings;
  private readonly workers: WorkersPort;

  constructor(private readonly deps: InProcessControlPlaneDeps) {
    this.timings = deps.timings ?? BISTRO_WORKER_TIMINGS;
    this.workers = deps.workers ?? dynamoStorePorts(deps.store).workers;
  }

  async register(registration: WorkerRegistration, caller: Caller = {}): Promise<RegistrationAnswer> {
    const { sqs, clock } = this.deps;
    const nowMs = clock();
    // The store replaces a previous instance only if it is gone: declared lost, or silent for as
    // long as `workerState` needs to call it must_die (judged with that instance's own period).
    // Checked first, so a refused registration creates nothing.
    const previous = await this.workers.get(registration.id);
    const staleBeforeMs = previous ? nowMs - mustDieSilenceMs(previous, this.timings) : nowMs;
    const sameOwner = previous?.instanceId === registration.instanceId && previous.principal === caller.principal;
    if (previous && !sameOwner && previous.lostAtMs === undefined && previous.heartbeatAtMs >= staleBeforeMs) {
      throw this.held(registration.id, previous);
    }
    const queueUrl = await createWorkerQueue(sqs, this.deps.queuePrefix, registration.id);
    const heartbeatSecret = newSecret();
    try {
      await this.workers.register(
        {
          ...registration,
          queueUrl,
          registeredAtMs: nowMs,
          heartbeatAtMs: nowMs,
          secretHash: hashSecret(heartbeatSecret),
          ...(caller.principal === undefined ? {} : { principal: caller.principal }),
        },
        staleBeforeMs,
      );
    } catch (error) {
      // A queue made for an id nobody holds now is this call's leftover: remove it.
      if (!(await this.workers.get(registration.id))) {
        await deleteWorkerQueue(sqs, queueUrl).catch((cause: unknown) => {
          this.deps.log?.({ event: "worker-queue-leftover", queueUrl, error: String(cause) });
        });
      }
      const holder = error instanceof ConflictError ? await this.workers.get(registration.id) : undefined;
      throw holder ? this.held(registration.id, holder) : error;
    }
    if (this.deps.queuePolicies) await restrictWorkerQueue(sqs, queueUrl, caller.principal);
    return {
      ...this.deps.setup,
      queueUrl,
      statusQueueUrl: this.deps.statusQueueUrl,
      timings: this.timings,
      heartbeatSecret,
      ...(caller.principal === undefined ? {} : { logOwner: caller.principal }),
    };
  }

  /** The 409 for an id a live instance holds: when it frees up, never which instance holds it. */
  private held(id: string, holder: WorkerRecord): ConflictError {
    const freeAtMs = holder.heartbeatAtMs + mustDieSilenceMs(holder, this.timings);
    return new ConflictError(
      `Worker id ${id} is held by a live worker instance, which last sent a heartbeat at ` +
        `${new Date(holder.heartbeatAtMs).toISOString()}; if it stays silent, the id is free after ` +
        `${new Date(freeAtMs).toISOString()}. Stop it, wait, or start this one with another --id.`,
    );
  }

  async heartbeat(worker: Heartbeat, caller: Caller = {}): Promise<HeartbeatAnswer> {
    const { clock } = this.deps;
    const nowMs = clock();
    const record = await this.workers.get(worker.id);
    if (record?.instanceId !== worker.instanceId) {
      return {
        ok: false,
        reason: `Worker ${worker.id} instance ${worker.instanceId} was replaced by another instance.`,
      };
    }
    // Knowing the instance id is not enough: the registration's secret (and its caller) must match.
    const wrongCaller = record.principal !== undefined && record.principal !== caller.principal;
    if (!secretMatches(worker.secret, record.secretHash) || wrongCaller) {
      this.deps.log?.({
        event: "heartbeat-forged",
        worker: worker.id,
        reason: wrongCaller ? "not the registering caller" : "wrong heartbeat secret",
        ...(caller.principal === undefined ? {} : { caller: caller.principal }),
      });
      throw new ForbiddenError(`This heartbeat is not from the registered instance of worker ${worker.id}.`);
    }
    // As in Bistro, an instance the scheduler may already call lost is not revived by a late
    // heartbeat: its tasks may be retried elsewhere, so it must die. Marking it makes that final.
    if (workerState(record, nowMs, this.timings) === "must_die") {
      await this.workers.markLost(worker.id, worker.instanceId, nowMs);
      return { ok: false, reason: `Worker ${worker.id} instance ${worker.instanceId} was declared lost.` };
    }
    try {
      // The list is as old as the earlier of the worker's send time and our receipt (clocks differ:
      // the earlier one never makes the list look newer than it is).
      const running =
        worker.running === undefined
          ? undefined
          : { attempts: worker.running, listedAtMs: Math.min(nowMs, worker.sentAtMs ?? nowMs) };
      await this.workers.heartbeat(worker.id, worker.instanceId, hashSecret(worker.secret), nowMs, running);
      return { ok: true };
    } catch (error) {
      if (error instanceof NotFoundError) return { ok: false, reason: error.message };
      throw error;
    }
  }
}
