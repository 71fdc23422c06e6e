// The worker control plane over HTTP: registration and heartbeats answer exactly what the
// in-process control plane answers (the same code, lib/worker/control-plane.ts), so a worker's
// HTTP client is a thin shell around these routes. Plus a listing with each worker's health.
import { z } from "zod";
import { BISTRO_WORKER_TIMINGS, workerState } from "../round/worker-health";
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

const registrationSchema = z.strictObject({
  id: z.string().min(1).max(200),
  hostname: z.string().min(1),
  instanceId: z.string().min(1),
  resources: z.record(z.string(), z.number().int().nonnegative()).default({}),
  heartbeatPeriodSec: z.number().positive().max(3600),
});

const heartbeatSchema = z.strictObject({
  instanceId: z.string().min(1),
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
    ...(deps.workerSetup ? { setup: deps.workerSetup } : {}),
  });
}

/** `POST /workers`: ConflictError (409) while a live instance holds the id. A new worker pokes a round. */
export async function registerWorkerRoute(deps: ApiDeps, body: unknown): Promise<RegistrationAnswer> {
  const registration = validate(registrationSchema, body, "worker registration");
  const answer = await controlPlane(deps).register(registration);
  await pokeQuietly(deps, `worker ${registration.id} registered`);
  return answer;
}

/** `POST /workers/{id}/heartbeat`: `{ok: false, reason}` tells the instance to stop. */
export async function heartbeatRoute(deps: ApiDeps, id: string, body: unknown): Promise<HeartbeatAnswer> {
  const { instanceId, running, sentAtMs } = validate(heartbeatSchema, body, "heartbeat");
  return controlPlane(deps).heartbeat({
    id,
    instanceId,
    ...(running === undefined ? {} : { running }),
    ...(sentAtMs === undefined ? {} : { sentAtMs }),
  });
}

/** `GET /workers`: every registration with its health as the scheduler judges it now. */
export async function listWorkersRoute(deps: ApiDeps) {
  const nowMs = deps.clock();
  const timings = deps.workerTimings ?? BISTRO_WORKER_TIMINGS;
  const workers = await listWorkers(deps.store);
  return {
    workers: workers
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((worker) => ({ ...worker, state: workerState(worker, nowMs, timings) })),
  };
}
