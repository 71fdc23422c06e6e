// The worker's control plane over the Sous HTTP API (`POST /workers`, `POST /workers/{id}/heartbeat`,
// docs/api.md): what `sous worker` uses on any host. The routes run `InProcessControlPlane`, so
// this is a thin client; the transport (signing, base URL) is given by the caller.
import * as z from "../config/zod";
import { ConflictError } from "../store/errors";
import type { ControlPlane, Heartbeat, HeartbeatAnswer, RegistrationAnswer, WorkerRegistration } from "./control-plane";

/** Sends one JSON POST; throws only when there is no answer at all. */
export type JsonPost = (path: string, body: unknown) => Promise<{ status: number; body: unknown }>;

const nonEmpty = z.string().check(z.minLength(1));

const registrationAnswerSchema = z.object({
  queueUrl: nonEmpty,
  statusQueueUrl: nonEmpty,
  timings: z.object({
    heartbeatPeriodSec: z.number(),
    heartbeatGraceSec: z.number(),
    loseUnhealthyAfterSec: z.number(),
    workerCheckIntervalSec: z.number(),
  }),
  heartbeatSecret: nonEmpty,
  tableName: z.optional(nonEmpty),
  logBucket: z.optional(nonEmpty),
  logOwner: z.optional(z.string().check(z.minLength(1), z.maxLength(128))),
  region: z.optional(nonEmpty),
  endpoints: z.optional(z.object({ dynamodb: z.optional(z.url()), sqs: z.optional(z.url()), s3: z.optional(z.url()) })),
});

const heartbeatAnswerSchema = z.union([
  z.object({ ok: z.literal(true) }),
  z.object({ ok: z.literal(false), reason: z.string() }),
]);

/** An error answer of the API other than a conflict. */
export class ControlPlaneHttpError extends Error {
  override readonly name = "ControlPlaneHttpError";
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function messageOf(answer: { status: number; body: unknown }): string {
  const error = (answer.body as { error?: { message?: unknown } } | undefined)?.error;
  return typeof error?.message === "string" ? error.message : `HTTP ${answer.status}`;
}

function parseAnswer<T>(schema: z.ZodMiniType<T>, answer: { status: number; body: unknown }, what: string): T {
  if (answer.status === 409) throw new ConflictError(messageOf(answer));
  if (answer.status >= 400) throw new ControlPlaneHttpError(answer.status, `${what}: ${messageOf(answer)}`);
  const parsed = schema.safeParse(answer.body);
  if (!parsed.success) throw new Error(`${what}: unexpected answer ${JSON.stringify(answer.body).slice(0, 200)}`);
  return parsed.data;
}

export class HttpControlPlane implements ControlPlane {
  constructor(private readonly post: JsonPost) {}

  async register(registration: WorkerRegistration): Promise<RegistrationAnswer> {
    const answer = await this.post("/workers", registration);
    return parseAnswer(registrationAnswerSchema, answer, `Registering worker ${registration.id}`);
  }

  async heartbeat(worker: Heartbeat): Promise<HeartbeatAnswer> {
    const { id: _id, ...body } = worker;
    const answer = await this.post(`/workers/${encodeURIComponent(worker.id)}/heartbeat`, body);
    return parseAnswer(heartbeatAnswerSchema, answer, `Heartbeat of worker ${worker.id}`);
  }
}
