// The CLI's client of the Sous HTTP API (docs/api.md): where the API is (--api, SOUS_API, or
// `sous local`'s default), SigV4 signing for API Gateway's IAM auth when the API is not on this
// machine, and typed errors for the two ways a call fails (cannot reach the API; an HTTP error
// answer with its message and every listed issue).
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { errorOfAnswer, type ApiHttpError } from "../api/error-answer";
import { sigV4Signer, type RequestSigner } from "../aws/request-signer";
import { UsageError } from "./usage-error";

/** `sous local`'s default address. */
export const DEFAULT_API_URL = "http://127.0.0.1:6790";

/** The API's base URL: the --api flag, then SOUS_API, then `sous local`'s default. */
export function resolveApiUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const url = flag ?? (env.SOUS_API === "" ? undefined : env.SOUS_API) ?? DEFAULT_API_URL;
  try {
    new URL(url);
  } catch {
    throw new UsageError(`The API address ${JSON.stringify(url)} is not a URL (from ${flag ? "--api" : "SOUS_API"})`);
  }
  return url.endsWith("/") ? url.slice(0, -1) : url;
}

/** The API did not answer at all (connection refused, DNS, TLS...). */
export class ApiUnreachableError extends Error {
  override readonly name = "ApiUnreachableError";
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`Cannot reach the Sous API at ${url}: is \`sous local\` running? (or pass --api) [${reason}]`);
  }
}

export { ApiHttpError, type ApiIssue } from "../api/error-answer";

export function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname;
  return host === "localhost" || host === "[::1]" || host.startsWith("127.");
}

/** The region of an API Gateway URL (`ID.execute-api.REGION.amazonaws.com`), else AWS_REGION. */
export function regionForUrl(url: string, env: NodeJS.ProcessEnv = process.env): string {
  const fromHost = /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(new URL(url).hostname)?.[1];
  const region = fromHost ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region) {
    throw new UsageError(
      `Cannot tell the AWS region of ${url} to sign requests: set AWS_REGION (or use the execute-api URL)`,
    );
  }
  return region;
}

/** How requests to an API are signed: not at all on this machine, else SigV4 with the default credentials. */
export function signerFor(baseUrl: string, env: NodeJS.ProcessEnv = process.env): RequestSigner | null {
  return isLoopbackUrl(baseUrl) ? null : sigV4Signer(regionForUrl(baseUrl, env), defaultProvider());
}

export type QueryValue = string | readonly string[] | number | undefined;

export interface RequestOptions {
  query?: Readonly<Record<string, QueryValue>>;
  /** Sent as JSON. */
  body?: unknown;
  headers?: Readonly<Record<string, string>>;
}

export interface RawAnswer {
  status: number;
  headers: Headers;
  /** Parsed JSON, or the text when it is not JSON, or undefined when empty. */
  body: unknown;
}

export interface ApiClientOptions {
  baseUrl: string;
  /** Default: SigV4 with the SDK's default credential chain unless the API is on loopback. */
  signer?: RequestSigner | null;
  fetch?: typeof fetch;
  env?: NodeJS.ProcessEnv;
}

export class ApiClient {
  readonly baseUrl: string;
  private readonly signer: RequestSigner | null;
  private readonly fetchImpl: typeof fetch;

  constructor(options: ApiClientOptions) {
    this.baseUrl = options.baseUrl;
    this.fetchImpl = options.fetch ?? fetch;
    this.signer = options.signer !== undefined ? options.signer : signerFor(options.baseUrl, options.env);
  }

  /** The URL of an API path (segments already encoded by the caller) with its query. */
  url(path: string, query: RequestOptions["query"] = {}): URL {
    const url = new URL(this.baseUrl + path);
    for (const [name, value] of Object.entries(query)) {
      if (value === undefined) continue;
      for (const v of typeof value === "string" || typeof value === "number" ? [String(value)] : value)
        url.searchParams.append(name, v);
    }
    return url;
  }

  /** Sends a request; throws only when the API cannot be reached. */
  async send(method: string, path: string, options: RequestOptions = {}): Promise<RawAnswer> {
    const url = this.url(path, options.query);
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    let headers: Record<string, string> = {
      accept: "application/json",
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
      ...options.headers,
    };
    if (this.signer) headers = await this.signer({ method, url, headers, body });
    let response: Response;
    let text: string;
    try {
      response = await this.fetchImpl(url, { method, headers, ...(body !== undefined ? { body } : {}) });
      text = await response.text();
    } catch (error) {
      throw new ApiUnreachableError(this.baseUrl, networkReason(error));
    }
    let parsed: unknown = undefined;
    if (text !== "") {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    return { status: response.status, headers: response.headers, body: parsed };
  }

  /** Sends a request and returns the JSON answer; an HTTP error answer throws ApiHttpError. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const answer = await this.send(method, path, options);
    if (answer.status >= 400) throw httpError(answer);
    return answer.body as T;
  }
}

/** The ApiHttpError of an error answer, in the API's error shape or not (a proxy's HTML page). */
export function httpError(answer: RawAnswer): ApiHttpError {
  return errorOfAnswer(answer.status, answer.body);
}

function networkReason(error: unknown): string {
  const cause = error instanceof Error ? (error.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (cause && typeof cause.code === "string") return cause.code;
  if (cause && typeof cause.message === "string") return cause.message;
  return error instanceof Error ? error.message : String(error);
}

/** A path segment, percent-encoded (`/jobs/${segment(name)}`). */
export const segment = (value: string) => encodeURIComponent(value);
