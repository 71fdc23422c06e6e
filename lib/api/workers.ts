// The worker control plane over HTTP: registration and heartbeats answer exactly what the
// in-process control plane answers (the same code, lib/worker/control-plane.ts), so a worker's
// HTTP client is a thin shell around these routes. Plus a listing with each worker's health.
// Registration inputs have documented limits (docs/api.md), each refused with a 400 naming it.
import * as z from "../config/zod";
import { MAX_SECRET_LENGTH } from "../dispatch/tokens";
import { BISTRO_WORKER_TIMINGS, workerState } from "../scheduler/worker-health";
import { listWorkers } from "../store/workers";
import {
  InProcessControlPlane,
  MAX_ATTEMPT_ID_CHARS,
  MAX_LISTED_ATTEMPTS,
  type HeartbeatAnswer,
  type RegistrationAnswer,
} from "../worker/control-plane";
import { pokeQuietly, type ApiDeps } from "./deps";
import { validate } from "./errors";

/** Registration limits (docs/api.md "Workers"). */
export const WORKER_LIMITS = {
  idLength: 200,
  /** A DNS name is at most 253 characters. */
  hostnameLength: 253,
  instanceIdLength: 128,
  resources: 64,
  resourceNameLength: 64,
  resourceAmount: 1_000_000_000,
} as const;

const L = WORKER_LIMITS;
// Built on first use (z.lazy), as the schemas below: building schemas costs cold-start time.
const resourcesSchema = z.lazy(() =>
  z._default(
    z
      .record(
        z.string(),
        z
          .number()
          .check(
            z.int("a resource amount is a whole number"),
            z.nonnegative("a resource amount may not be negative"),
            z.maximum(L.resourceAmount, `a resource amount is at most ${L.resourceAmount}`),
          ),
      )
      .check(
        z.refine((map) => Object.keys(map).length <= L.resources, `at most ${L.resources} resources`),
        z.refine(
          (map) => Object.keys(map).every((name) => name.length >= 1 && name.length <= L.resourceNameLength),
          `a resource name has 1 to ${L.resourceNameLength} characters`,
        ),
      ),
    {},
  ),
);

/** A string of 1 to `max` characters; past `max` the message names the limit. */
const boundedString = (max: number) => z.string().check(z.minLength(1), z.maxLength(max, `at most ${max} characters`));

const registrationSchema = z.lazy(() =>
  z.strictObject({
    id: boundedString(L.idLength),
    hostname: boundedString(L.hostnameLength),
    instanceId: boundedString(L.instanceIdLength),
    resources: resourcesSchema,
    heartbeatPeriodSec: z.number().check(z.positive(), z.maximum(3600, "at most 3600 seconds")),
    /** The machine as the worker measured it; at most 64 GPU names of 200 characters. */
    machine: z.optional(
      z.strictObject({
        cpuCores: z.int().check(z.minimum(0), z.maximum(100_000)),
        memoryMB: z.int().check(z.minimum(0), z.maximum(1_000_000_000)),
        gpus: z.array(z.string().check(z.maxLength(200))).check(z.maxLength(64)),
      }),
    ),
  }),
);

const heartbeatSchema = z.lazy(() =>
  z.strictObject({
    instanceId: boundedString(L.instanceIdLength),
    secret: boundedString(MAX_SECRET_LENGTH),
    running: z.optional(
      z
        .array(z.string().check(z.minLength(1), z.maxLength(MAX_ATTEMPT_ID_CHARS)))
        .check(z.maxLength(MAX_LISTED_ATTEMPTS)),
    ),
    sentAtMs: z.optional(z.int().check(z.nonnegative())),
  }),
);

function controlPlane(deps: ApiDeps): InProcessControlPlane {
  return new InProcessControlPlane({
    store: deps.store,
    sqs: deps.sqs,
    queuePrefix: deps.workerQueuePrefix,
    statusQueueUrl: deps.statusQueueUrl,
    clock: deps.clock,
    ...(deps.workerTimings ? { timings: deps.workerTimings } : {}),
    ...(deps.workerQueuePolicies ? { queuePolicies: true } : {}),
    ...(deps.log ? { log: deps.log } : {}),
    ...(deps.workerSetup ? { setup: deps.workerSetup } : {}),
  });
}

const callerOf = (caller: string | undefined) => (caller === undefined ? {} : { principal: caller });

/** `POST /workers`: ConflictError (409) while a live instance holds the id. A new worker pokes a round. */
export async function registerWorkerRoute(deps: ApiDeps, body: unknown, caller?: string): Promise<RegistrationAnswer> {
  const registration = validate(registrationSchema, body, "worker registration");
  const answer = await controlPlane(deps).register(registration, callerOf(caller));
  await pokeQuietly(deps, `worker ${registration.id} registered`);
  return answer;
}

/** `POST /workers/{id}/heartbeat`: `{ok: false, reason}` tells the instance to stop; 403 for a forged one. */
export async function heartbeatRoute(
  deps: ApiDeps,
  id: string,
  body: unknown,
  caller?: string,
): Promise<HeartbeatAnswer> {
  const { instanceId, secret, running, sentAtMs } = validate(heartbeatSchema, body, "heartbeat");
  return controlPlane(deps).heartbeat(
    {
      id,
      instanceId,
      secret,
      ...(running === undefined ? {} : { running }),
      ...(sentAtMs === undefined ? {} : { sentAtMs }),
    },
    callerOf(caller),
  );
}

/** `GET /workers`: every registration with its health as the scheduler judges it now (no secret hashes). */
export async function listWorkersRoute(deps: ApiDeps) {
  const nowMs = deps.clock();
  const timings = deps.workerTimings ?? BISTRO_WORKER_TIMINGS;
  const workers = await listWorkers(deps.store);
  return {
    workers: workers
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map(({ secretHash: _secret, ...worker }) => ({ ...worker, state: workerState(worker, nowMs, timings) })),
  };
}
