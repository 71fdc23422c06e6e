// The web UI's server, on 127.0.0.1 only: it serves the page and its bundle (built in memory at
// start, lib/ui/bundle.ts) and forwards `/api/*` to the Sous API, so the browser talks to one
// origin only. Against a deployed stack each forwarded request is signed with the user's AWS
// credentials (SigV4), as `kubectl proxy` does; against `sous local` it goes unsigned. Every
// request passes the request guard first (loopback Host only; no foreign Origin may change
// state), and the browser's own Origin, cookies and credentials never reach the API.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { RequestSigner } from "../aws/request-signer";
import { MAX_BODY_BYTES } from "../config/limits";
import { BodyTooLargeError, readBody } from "../local/api-server";
import { makeRequestGuard } from "../local/request-guard";
import { buildUiBundle, type UiBundle } from "./bundle";

/** The API prefix the page calls; the rest of the path is the API's own. */
export const API_PREFIX = "/api";
/** Request bodies larger than this are refused (the API's own limit). */
export const MAX_PROXY_BODY_BYTES = MAX_BODY_BYTES;
/** Request headers passed on to the API; everything else (cookies, Origin, Host) stays here. */
const FORWARDED_REQUEST_HEADERS = ["content-type", "if-match", "accept"];
/** Answer headers passed back to the browser. */
const FORWARDED_ANSWER_HEADERS = ["content-type", "etag", "allow"];

export interface UiServerOptions {
  /** The Sous API's base URL, e.g. http://127.0.0.1:6790 or an execute-api stage URL. */
  apiUrl: string;
  /** Signs forwarded requests; null for an API on this machine. */
  signer: RequestSigner | null;
  /** Port on 127.0.0.1 (0 = any free port). */
  port: number;
  /** What to say when the API cannot be reached. */
  onProxyError?: (error: unknown) => void;
}

export interface UiServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

function sendJsonError(response: ServerResponse, status: number, code: string, message: string): void {
  response.writeHead(status, { "content-type": "application/json; charset=utf-8" });
  response.end(JSON.stringify({ error: { status, code, message } }));
}

function headerValue(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}

/** Forwards one `/api/*` request to the API and copies the answer back. */
async function forward(
  options: UiServerOptions,
  request: IncomingMessage,
  response: ServerResponse,
  target: URL,
): Promise<void> {
  const method = request.method ?? "GET";
  const received = method === "GET" || method === "HEAD" ? "" : await readBody(request);
  if (typeof received !== "string") throw new BodyTooLargeError();
  const body = received === "" ? undefined : received;
  let headers: Record<string, string> = {};
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = headerValue(request, name);
    if (value !== undefined) headers[name] = value;
  }
  if (options.signer) headers = await options.signer({ method, url: target, headers, body });
  let answer: Response;
  let text: string;
  try {
    answer = await fetch(target, { method, headers, ...(body !== undefined ? { body } : {}) });
    text = await answer.text();
  } catch (error) {
    options.onProxyError?.(error);
    sendJsonError(response, 502, "api_unreachable", `The Sous API at ${options.apiUrl} cannot be reached.`);
    return;
  }
  const out: Record<string, string> = { "cache-control": "no-store" };
  for (const name of FORWARDED_ANSWER_HEADERS) {
    const value = answer.headers.get(name);
    if (value !== null) out[name] = value;
  }
  response.writeHead(answer.status, out);
  response.end(text);
}

const PAGE_HEADERS = {
  "cache-control": "no-store",
  // The page loads only its own script and style and talks only to its own origin.
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

function serveStatic(bundle: UiBundle, path: string, response: ServerResponse): boolean {
  const file =
    path === "/" || path === "/index.html"
      ? { type: "text/html; charset=utf-8", body: bundle.html }
      : bundle.scripts.has(path)
        ? { type: "text/javascript; charset=utf-8", body: bundle.scripts.get(path) ?? "" }
        : path === "/app.css"
          ? { type: "text/css; charset=utf-8", body: bundle.css }
          : undefined;
  if (!file) return false;
  response.writeHead(200, { ...PAGE_HEADERS, "content-type": file.type });
  response.end(file.body);
  return true;
}

/** Builds the bundle and listens on 127.0.0.1:`port`. */
export async function serveUi(options: UiServerOptions): Promise<UiServer> {
  const bundle = await buildUiBundle();
  const apiBase = new URL(options.apiUrl.endsWith("/") ? options.apiUrl : `${options.apiUrl}/`);
  // sous local's request guard (lib/local/request-guard.ts), for the port actually bound.
  const guard: { current?: ReturnType<typeof makeRequestGuard> } = {};
  const server = createServer((request, response) => {
    void (async () => {
      try {
        const verdict = guard.current?.check({ method: request.method ?? "GET", headers: request.headers });
        if (!verdict) {
          sendJsonError(response, 503, "starting", "The UI server is starting");
          return;
        }
        if (!verdict.ok) {
          sendJsonError(response, verdict.status, "forbidden", verdict.message);
          return;
        }
        const url = new URL(request.url ?? "/", "http://127.0.0.1");
        if (url.pathname === API_PREFIX || url.pathname.startsWith(`${API_PREFIX}/`)) {
          // Only the path and query come from the browser: the target's origin is always the API's.
          const target = new URL(apiBase.href);
          target.pathname = apiBase.pathname + url.pathname.slice(API_PREFIX.length).replace(/^\/+/, "");
          target.search = url.search;
          await forward(options, request, response, target);
          return;
        }
        if (request.method !== "GET" && request.method !== "HEAD") {
          sendJsonError(response, 405, "method_not_allowed", "The UI's pages are read with GET.");
          return;
        }
        if (!serveStatic(bundle, url.pathname, response)) {
          sendJsonError(response, 404, "not_found", `No page ${url.pathname}`);
        }
      } catch (error) {
        const tooLarge = error instanceof BodyTooLargeError;
        if (!response.headersSent) {
          sendJsonError(
            response,
            tooLarge ? 413 : 500,
            tooLarge ? "too_large" : "internal",
            tooLarge ? `Request bodies are limited to ${MAX_PROXY_BODY_BYTES} bytes` : "Internal error",
          );
        } else {
          response.end();
        }
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, "127.0.0.1", () => {
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  guard.current = makeRequestGuard({ port });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
