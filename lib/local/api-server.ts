// Serves the Sous API (lib/api) over plain HTTP on 127.0.0.1 for `sous local` and e2e tests:
// the same routes and answers as API Gateway + Lambda, without either, behind the loopback
// request guard (Host and Origin checks, CORS for allowed origins only).
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { bodyTooLarge, type Api, type ApiRequest } from "../api";
import { MAX_BODY_BYTES } from "../config/limits";
import { makeRequestGuard, type RequestGuard } from "./request-guard";

/**
 * A body over MAX_BODY_BYTES is refused with lib/api's 400 naming the limit. The rest of it is
 * read and dropped (so the client sees the answer rather than a reset) up to this many bytes;
 * past that the connection is cut.
 */
const MAX_DRAINED_BYTES = 4 * MAX_BODY_BYTES;

export interface ApiServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export class BodyTooLargeError extends Error {}

/** The body text, or the byte count when it is over MAX_BODY_BYTES. */
export async function readBody(request: IncomingMessage): Promise<string | { tooLarge: number }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_DRAINED_BYTES) throw new BodyTooLargeError();
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  return size > MAX_BODY_BYTES ? { tooLarge: size } : Buffer.concat(chunks).toString("utf8");
}

function toApiRequest(request: IncomingMessage, body: string): ApiRequest {
  const url = new URL(request.url ?? "/", "http://localhost");
  const query: Record<string, string | string[]> = {};
  for (const key of new Set(url.searchParams.keys())) {
    const values = url.searchParams.getAll(key);
    query[key] = values.length === 1 ? (values[0] ?? "") : values;
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return { method: request.method ?? "GET", path: url.pathname, query, headers, body: body === "" ? null : body };
}

/** The answer's headers with CORS as the guard allows it: no `access-control-*` for other origins. */
function withGuardCors(headers: Record<string, string>, cors: Record<string, string>): Record<string, string> {
  const allowed = "access-control-allow-origin" in cors;
  const kept = Object.entries(headers).filter(([name]) => allowed || !name.startsWith("access-control-"));
  return { ...Object.fromEntries(kept), ...cors };
}

/**
 * Listens on 127.0.0.1:`port` (0 = any free port). Only loopback `Host` names are served; state
 * changes from a browser page are accepted from the server's own origin and `allowedOrigins` only.
 */
export async function serveApi(
  api: Api,
  port: number,
  options: { allowedOrigins?: readonly string[] } = {},
): Promise<ApiServer> {
  let guard: RequestGuard | undefined;
  const server = createServer((request, response) => {
    void (async () => {
      try {
        const verdict = guard?.check({ method: request.method ?? "GET", headers: request.headers });
        if (!verdict?.ok) {
          // Refused before the body is read or anything runs.
          const status = verdict?.status ?? 503;
          const code = status === 403 ? "forbidden" : status === 421 ? "misdirected_request" : "unavailable";
          response.writeHead(status, { "content-type": "application/json", connection: "close" });
          response.end(JSON.stringify({ error: { status, code, message: verdict?.message ?? "Not ready" } }));
          return;
        }
        const body = await readBody(request);
        const answer =
          typeof body === "string"
            ? await api.handle(toApiRequest(request, body))
            : api.errorResponse(bodyTooLarge(body.tooLarge));
        response.writeHead(answer.statusCode, withGuardCors(answer.headers, verdict.headers));
        response.end(answer.body === undefined ? undefined : JSON.stringify(answer.body));
      } catch (error) {
        const tooLarge = error instanceof BodyTooLargeError;
        response.writeHead(tooLarge ? 413 : 500, { "content-type": "application/json" });
        response.end(JSON.stringify({ error: tooLarge ? "Request body too large" : "Internal error" }));
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      resolve();
    });
  });
  const { port: actual } = server.address() as AddressInfo;
  guard = makeRequestGuard({
    port: actual,
    ...(options.allowedOrigins ? { allowedOrigins: options.allowedOrigins } : {}),
  });
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
