// The worker control plane over HTTP: registration and heartbeats answer exactly what the
// in-process control plane answers (the same code, lib/worker/control-plane.ts), so a worker's
// HTTP client is a thin shell around these routes. Plus a listing with each worker's health.
// Registration inputs have documented limits (docs/api.md), each refused with a 400 naming it.
import { z } from "zod";
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
const resourcesSchema = z
  .record(
    z.string(),
    z
      .number()
      .int("a resource amount is a whole number")
      .nonnegative("a resource amount may not be negative")
      .max(L.resourceAmount, `a resource amount is at most ${L.resourceAmount}`),
  )
  .refine((map) => Object.keys(map).length <= L.resources, `at most ${L.resources} resources`)
  .refine(
    (map) => Object.keys(map).every((name) => name.length >= 1 && name.length <= L.resourceNameLength),
    `a resource name has 1 to ${L.resourceNameLength} characters`,
  )
  .default({});

const registrationSchema = z.strictObject({
  id: z.string().min(1).max(L.idLength, `at most ${L.idLength} characters`),
  hostname: z.string().min(1).max(L.hostnameLength, `at most ${L.hostnameLength} characters`),
  instanceId: z.string().min(1).max(L.instanceIdLength, `at most ${L.instanceIdLength} characters`),
  resources: resourcesSchema,
  heartbeatPeriodSec: z.number().positive().max(3600, "at most 3600 seconds"),
  /** The machine as the worker measured it; at most 64 GPU names of 200 characters. */
  machine: z
    .strictObject({
      cpuCores: z.number().int().min(0).max(100_000),
      memoryMB: z.number().int().min(0).max(1_000_000_000),
      gpus: z.array(z.string().max(200)).max(64),
    })
    .optional(),
});

const heartbeatSchema = z.strictObject({
  instanceId: z.string().min(1).max(L.instanceIdLength, `at most ${L.instanceIdLength} characters`),
  secret: z.string().min(1).max(MAX_SECRET_LENGTH, `at most ${MAX_SECRET_LENGTH} characters`),
  running: z.array(z.string().min(1).max(MAX_ATTEMPT_ID_CHARS)).max(MAX_LISTED_ATTEMPTS).optional(),
  sentAtMs: z.number().int().nonnegative().optional(),
});

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
