// Typed errors of the store, mapped to HTTP status codes by the API in one place.

/** The round's lease was taken over (or expired): it must commit nothing more. */
export class LeaseLostError extends Error {
  override readonly name = "LeaseLostError";
}

/** An optimistic-concurrency write lost a race (e.g. the config changed meanwhile). */
export class ConflictError extends Error {
  override readonly name = "ConflictError";
}

/** A thing the caller named does not exist (job, worker...). */
export class NotFoundError extends Error {
  override readonly name = "NotFoundError";
}

/** The caller is not who the request says it is (a forged heartbeat). */
export class ForbiddenError extends Error {
  override readonly name = "ForbiddenError";
}
