// Plain HTTP shapes of the API, free of Lambda types: the request any host hands in (Lambda,
// `sous local`'s server, tests), the JSON response, path templates such as `/jobs/{name}`,
// query parameters, JSON bodies and CORS headers. Routing and bodies behave the same whether
// a request arrives through `handle` or through middy's router and body parser.
import { jsonDepthProblem, MAX_BODY_BYTES, overLimit, utf8Bytes } from "../config/limits";
import { MethodNotAllowedError, UnsupportedMediaTypeError, ValidationError } from "./errors";

export type HttpMethod = "GET" | "PUT" | "POST" | "DELETE";

/** A request as any host receives it. */
export interface ApiRequest {
  method: string;
  /** The path without the query string, percent-encoded as sent (`/jobs/my%20job`). */
  path: string;
  /** Query parameters, decoded; a repeated parameter has every value. */
  query?: Readonly<Record<string, string | readonly string[] | null | undefined>> | null;
  headers?: Readonly<Record<string, string | undefined>> | null;
  /** The body text, if any. */
  body?: string | null;
}

export interface ApiResponse {
  statusCode: number;
  headers: Record<string, string>;
  /** A JSON value (serialized by the host); undefined for an empty body. */
  body: unknown;
}

/** How a route takes its body: not at all, as parsed JSON, or as raw text (Bistro's POST /). */
export type BodyKind = "none" | "json" | "raw";

/** What a route handler receives. */
export interface RouteInput {
  /** Path parameters, decoded. */
  params: Readonly<Record<string, string>>;
  query: QueryParams;
  /** Header names in lower case. */
  headers: Readonly<Record<string, string>>;
  /** json: the parsed value (undefined without a body); raw: the text; none: undefined. */
  body: unknown;
}

export interface ApiRoute {
  method: HttpMethod;
  /** A template: literal segments and `{name}` parameters. */
  path: string;
  body: BodyKind;
  run(input: RouteInput): Promise<ApiResponse>;
}

export const JSON_CONTENT_TYPE = "application/json; charset=utf-8";

export function jsonResponse(statusCode: number, body: unknown, headers: Record<string, string> = {}): ApiResponse {
  return { statusCode, headers: { "content-type": JSON_CONTENT_TYPE, ...headers }, body };
}

/**
 * CORS headers for a browser UI on another origin. Without `origin` no origin is allowed (never
 * `*`): a page elsewhere cannot read answers; same-origin UIs and non-browser clients need no CORS.
 */
export function corsHeaders(origin?: string): Record<string, string> {
  return {
    ...(origin === undefined ? {} : { "access-control-allow-origin": origin, vary: "Origin" }),
    "access-control-allow-methods": "GET, PUT, POST, DELETE, OPTIONS",
    "access-control-allow-headers":
      "content-type, authorization, if-match, x-amz-date, x-amz-security-token, x-amz-content-sha256",
    "access-control-expose-headers": "etag",
    "access-control-max-age": "600",
  };
}

function trimTrailingSlash(path: string): string {
  return path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ValidationError(`The path segment ${JSON.stringify(segment)} is not valid percent-encoding`);
  }
}

/** The decoded parameters of `path` if it matches `template`, else undefined. */
export function matchPath(template: string, path: string): Record<string, string> | undefined {
  const want = trimTrailingSlash(template).split("/");
  const have = trimTrailingSlash(path).split("/");
  if (want.length !== have.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, part] of want.entries()) {
    const actual = have[i] ?? "";
    const name = /^\{(\w+)\}$/.exec(part)?.[1];
    if (name !== undefined) {
      if (actual === "") return undefined;
      params[name] = decodeSegment(actual);
    } else if (part !== actual) {
      return undefined;
    }
  }
  return params;
}

/** The route for a method and path; a NotFound-like error (404) or MethodNotAllowedError (405) otherwise. */
export function findRoute(
  routes: readonly ApiRoute[],
  method: string,
  path: string,
): { route: ApiRoute; params: Record<string, string> } {
  const allowed: string[] = [];
  for (const route of routes) {
    const params = matchPath(route.path, path);
    if (!params) continue;
    if (route.method === method.toUpperCase()) return { route, params };
    allowed.push(route.method);
  }
  if (allowed.length > 0) {
    throw new MethodNotAllowedError(`${method} is not allowed on ${path}; use ${allowed.join(" or ")}`, allowed);
  }
  throw new RouteNotFoundError(`No route for ${method} ${path}`);
}

/** No route has this path: a 404 (carries statusCode like any HTTP error). */
export class RouteNotFoundError extends Error {
  override readonly name = "RouteNotFoundError";
  readonly statusCode = 404;
}

/** Query parameters with typed getters; every getter names the parameter in its error. */
export class QueryParams {
  private readonly values = new Map<string, string[]>();

  constructor(query: ApiRequest["query"]) {
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value === null || value === undefined) continue;
      this.values.set(name, typeof value === "string" ? [value] : [...value]);
    }
  }

  /** The last value of a parameter (as API Gateway's single-value map keeps it). */
  get(name: string): string | undefined {
    return this.values.get(name)?.at(-1);
  }

  /** Every value of a repeated parameter. */
  all(name: string): string[] {
    return this.values.get(name) ?? [];
  }

  int(name: string, bounds: { min: number; max: number }): number | undefined {
    const text = this.get(name);
    if (text === undefined || text === "") return undefined;
    const value = Number(text);
    if (!/^-?\d+$/.test(text.trim()) || value < bounds.min || value > bounds.max) {
      throw new ValidationError(`Query parameter ${name} must be an integer from ${bounds.min} to ${bounds.max}`, [
        { path: name, message: `expected an integer from ${bounds.min} to ${bounds.max}`, value: text },
      ]);
    }
    return value;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[]): T | undefined {
    const text = this.get(name);
    if (text === undefined || text === "") return undefined;
    if (!(allowed as readonly string[]).includes(text)) {
      throw new ValidationError(`Query parameter ${name} must be one of ${allowed.join(", ")}`, [
        { path: name, message: `expected one of ${allowed.join(", ")}`, value: text },
      ]);
    }
    return text as T;
  }
}

export function lowerCaseHeaders(headers: ApiRequest["headers"]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) if (value !== undefined) out[name.toLowerCase()] = value;
  return out;
}

const JSON_MIME = /^application\/(.+\+)?json($|;.+)/;

/** The refusal of a body over MAX_BODY_BYTES. */
export function bodyTooLarge(bytes: number): ValidationError {
  const message = overLimit("The request body", bytes, "MAX_BODY_BYTES", "bytes");
  return new ValidationError(message, [{ path: "body", message }]);
}

/** Refuses a body over MAX_BODY_BYTES, whatever the route (hosts may refuse larger ones first). */
export function checkBodySize(text: string | null | undefined): void {
  if (text === undefined || text === null || text.length * 3 <= MAX_BODY_BYTES) return;
  const bytes = utf8Bytes(text);
  if (bytes > MAX_BODY_BYTES) throw bodyTooLarge(bytes);
}

/** What a route receives as its body: nothing, parsed JSON (parseJsonBody), or the raw text. */
export function routeBody(route: ApiRoute, headers: Readonly<Record<string, string>>, text: string | null | undefined) {
  checkBodySize(text);
  if (route.body === "json") return parseJsonBody(headers, text);
  return route.body === "raw" ? (text ?? undefined) : undefined;
}

/**
 * A JSON route's body, the same in every host: the content type must say JSON (415 otherwise),
 * and the text must be JSON within MAX_JSON_DEPTH (400 naming the problem otherwise).
 */
export function parseJsonBody(headers: Readonly<Record<string, string>>, text: string | null | undefined): unknown {
  const contentType = headers["content-type"];
  if (contentType === undefined || !JSON_MIME.test(contentType)) {
    throw new UnsupportedMediaTypeError(
      "Unsupported Media Type: send the body as JSON (Content-Type: application/json)",
    );
  }
  if (text === undefined || text === null) return undefined;
  const tooDeep = jsonDepthProblem(text);
  if (tooDeep) throw new ValidationError(tooDeep, [{ path: "body", message: tooDeep }]);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ValidationError(`The body is not valid JSON: ${reason}`, [{ path: "body", message: reason }]);
  }
}

/** An opaque page cursor: base64url of a small JSON value. */
export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

/** The value of a cursor made by `encodeCursor`, checked by `accept`; a ValidationError otherwise. */
export function decodeCursor<T>(text: string, accept: (value: unknown) => value is T): T {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
  } catch {
    value = undefined;
  }
  if (!accept(value)) {
    throw new ValidationError("Invalid cursor: pass back the nextCursor of a previous page unchanged", [
      { path: "cursor", message: "not a cursor this API made", value: text },
    ]);
  }
  return value;
}
