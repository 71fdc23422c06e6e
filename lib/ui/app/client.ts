// The page's client of the Sous API. Every call goes to this page's own origin under /api (the
// UI server forwards it, signed when the API is a deployed stack), so the browser never talks to
// another origin. Errors carry the API's message and every listed issue (docs/api.md "Errors"),
// read the same way the CLI reads them.
import { ApiHttpError, errorOfAnswer } from "../../api/error-answer";

export { ApiHttpError as ApiError, type ApiIssue } from "../../api/error-answer";

export type Query = Record<string, string | number | readonly string[] | undefined>;

export interface CallOptions {
  query?: Query;
  body?: unknown;
  /** A raw body (Bistro's POST / reads it as text). */
  text?: string;
  headers?: Record<string, string>;
}

export interface Answer<T> {
  body: T;
  etag: string | null;
}

export function apiPath(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined || value === "") continue;
    for (const v of typeof value === "string" || typeof value === "number" ? [String(value)] : value) {
      params.append(name, v);
    }
  }
  const search = params.toString();
  return `/api${path}${search ? `?${search}` : ""}`;
}

export async function call<T>(method: string, path: string, options: CallOptions = {}): Promise<Answer<T>> {
  const json = options.body !== undefined;
  const response = await fetch(apiPath(path, options.query), {
    method,
    headers: {
      accept: "application/json",
      ...(json ? { "content-type": "application/json" } : {}),
      ...options.headers,
    },
    ...(json ? { body: JSON.stringify(options.body) } : options.text !== undefined ? { body: options.text } : {}),
  });
  const text = await response.text();
  let body: unknown = undefined;
  try {
    body = text === "" ? undefined : JSON.parse(text);
  } catch {
    body = text;
  }
  if (!response.ok) throw errorOfAnswer(response.status, body);
  return { body: body as T, etag: response.headers.get("etag") };
}

export const get = async <T>(path: string, query?: Query): Promise<T> =>
  (await call<T>("GET", path, query ? { query } : {})).body;

export const segment = (value: string) => encodeURIComponent(value);

export type BistroAnswer = Record<string, { data?: unknown; error?: string }>;

/** Bistro's multi-query `POST /`; a whole-request failure (e.g. no config yet) throws. */
export async function bistro(queries: Record<string, Record<string, unknown>>): Promise<BistroAnswer> {
  const { body } = await call<BistroAnswer | string>("POST", "/", { text: JSON.stringify(queries) });
  if (typeof body === "string") throw new ApiHttpError(200, "bistro", body, []);
  return body;
}

/** The data of one subquery, or its error thrown. */
export function dataOf(answer: BistroAnswer, name: string): unknown {
  const part = answer[name];
  if (part?.error !== undefined) throw new ApiHttpError(200, "bistro", part.error, []);
  return part?.data;
}
