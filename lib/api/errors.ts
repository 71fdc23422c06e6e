// The API's typed errors and the one place any error becomes an HTTP answer: validation -> 400
// with every issue listed, a forged worker request -> 403, unknown things -> 404, lost races -> 409, missing wiring -> 501, a
// failing dependency (e.g. a node source) -> 503, HTTP errors raised by middleware (middy's body
// parser, the router) keep their status, and anything else is a 500 with a safe message (the
// details go to the log, never to the caller).
import { capIssues } from "../config/issues";
import type * as z from "../config/zod";
import type { ConfigIssue } from "../model/config";
import { ConflictError, ForbiddenError, NotFoundError } from "../store/errors";

/** A request the API refuses as it is; `issues` lists every problem found, not just the first. */
export class ValidationError extends Error {
  override readonly name = "ValidationError";
  constructor(
    message: string,
    readonly issues: readonly ConfigIssue[] = [],
  ) {
    super(message);
  }
}

/** A JSON route got a body that is not declared (or not) JSON. */
export class UnsupportedMediaTypeError extends Error {
  override readonly name = "UnsupportedMediaTypeError";
}

/** The route needs something this deployment was not given (e.g. no log bucket). */
export class NotConfiguredError extends Error {
  override readonly name = "NotConfiguredError";
}

/** Something the answer depends on cannot be had now (e.g. a node source fails). */
export class UnavailableError extends Error {
  override readonly name = "UnavailableError";
}

/** The path exists but not with this method. */
export class MethodNotAllowedError extends Error {
  override readonly name = "MethodNotAllowedError";
  constructor(
    message: string,
    readonly allowed: readonly string[],
  ) {
    super(message);
  }
}

export interface ErrorBody {
  error: { status: number; code: string; message: string; issues?: ConfigIssue[] };
}

export interface MappedError {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
  /** True when the caller must not see the cause: it is logged instead. */
  internal: boolean;
}

const INTERNAL_MESSAGE = "Internal error; the details are in the API's log.";

/** An error thrown by HTTP middleware (middy's createError): a 4xx status it means to show. */
function httpStatusOf(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const { statusCode, expose } = error as { statusCode?: unknown; expose?: unknown };
  if (typeof statusCode !== "number" || !Number.isInteger(statusCode)) return undefined;
  return statusCode >= 400 && statusCode < 500 && expose !== false ? statusCode : undefined;
}

function body(status: number, code: string, message: string, issues?: readonly ConfigIssue[]): ErrorBody {
  return { error: { status, code, message, ...(issues && issues.length > 0 ? { issues: [...issues] } : {}) } };
}

/** The HTTP status, body and headers of any error. */
export function mapError(error: unknown): MappedError {
  const plain = (status: number, code: string, message: string, issues?: readonly ConfigIssue[]): MappedError => ({
    status,
    body: body(status, code, message, issues),
    headers: {},
    internal: false,
  });
  if (error instanceof ValidationError) return plain(400, "invalid_request", error.message, error.issues);
  if (error instanceof NotFoundError) return plain(404, "not_found", error.message);
  if (error instanceof ForbiddenError) return plain(403, "forbidden", error.message);
  if (error instanceof MethodNotAllowedError) {
    return { ...plain(405, "method_not_allowed", error.message), headers: { allow: error.allowed.join(", ") } };
  }
  if (error instanceof ConflictError) return plain(409, "conflict", error.message);
  if (error instanceof UnsupportedMediaTypeError) return plain(415, "unsupported_media_type", error.message);
  if (error instanceof NotConfiguredError) return plain(501, "not_configured", error.message);
  if (error instanceof UnavailableError) return plain(503, "unavailable", error.message);
  const status = httpStatusOf(error);
  if (status !== undefined) {
    return plain(status, status === 404 ? "not_found" : `http_${status}`, (error as Error).message);
  }
  return { status: 500, body: body(500, "internal", INTERNAL_MESSAGE), headers: {}, internal: true };
}

/** The message a caller may see for an error (Bistro's per-subquery `error` string). */
export function publicMessage(error: unknown): string {
  const mapped = mapError(error);
  if (mapped.internal) return INTERNAL_MESSAGE;
  const issues = mapped.body.error.issues ?? [];
  if (issues.length === 0) return mapped.body.error.message;
  return [mapped.body.error.message, ...issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message))].join("\n");
}

/** Parses `value` with a zod schema or throws a ValidationError naming every problem. */
export function validate<T>(schema: z.ZodMiniType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ValidationError(
    `Invalid ${what}`,
    capIssues(result.error.issues.map((issue) => ({ path: issue.path.map(String).join("."), message: issue.message }))),
  );
}
