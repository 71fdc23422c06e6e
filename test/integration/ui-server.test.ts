// The web UI's server (lib/ui/server.ts) against a stand-in API on 127.0.0.1: it serves the page
// and bundle, forwards /api/* to the API's origin only (path and query from the browser, never
// the host), passes on only the headers the API needs, signs when given a signer, copies the
// answer back, and refuses foreign Hosts and cross-site state changes before forwarding anything.
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { RequestSigner } from "../../lib/aws/request-signer";
import { MAX_PROXY_BODY_BYTES, serveUi, type UiServer } from "../../lib/ui/server";

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

let api: Server;
let apiUrl: string;
let seen: Seen[];
let ui: UiServer | undefined;

beforeAll(async () => {
  api = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (c: Buffer) => chunks.push(c));
    request.on("end", () => {
      seen.push({
        method: request.method ?? "",
        url: request.url ?? "",
        headers: request.headers,
        body: Buffer.concat(chunks).toString(),
      });
      response.writeHead(request.url?.includes("missing") ? 404 : 200, {
        "content-type": "application/json",
        etag: '"7"',
        "set-cookie": "session=api",
      });
      response.end(JSON.stringify({ ok: true }));
    });
  });
  await new Promise<void>((resolve) => api.listen(0, "127.0.0.1", resolve));
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => api.close(resolve));
});
beforeEach(() => {
  seen = [];
});
afterEach(async () => {
  await ui?.close();
  ui = undefined;
});

/** A raw request, so the Host header can be anything. */
function send(
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  const port = ui!.port;
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: "127.0.0.1",
        port,
        path,
        method: options.method ?? "GET",
        headers: { host: `127.0.0.1:${port}`, ...options.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() });
        });
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

describe("the UI server", () => {
  it("serves the page, its script and style from its own origin, and nothing else", async () => {
    ui = await serveUi({ apiUrl, signer: null, port: 0 });
    expect(ui.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const page = await send("/");
    expect(page.status).toBe(200);
    expect(page.body).toContain('<script type="module" src="/app.js"></script>');
    expect(page.headers["content-security-policy"]).toContain("default-src 'none'");
    expect(page.headers["content-security-policy"]).toContain("connect-src 'self'");
    const script = await send("/app.js");
    expect(script.headers["content-type"]).toContain("javascript");
    expect(script.body.length).toBeGreaterThan(10_000);
    expect(script.body).not.toMatch(/https?:\/\/(cdn|unpkg|esm\.sh)/);
    // The config page's chunk (the parser and zod) is a separate script the entry loads on demand.
    const chunks = [...script.body.matchAll(/"\.\/([\w-]+\.js)"/g)].map((m) => m[1]);
    expect(chunks.length).toBeGreaterThan(0);
    for (const chunk of chunks) {
      const loaded = await send(`/${chunk}`);
      expect(loaded.status).toBe(200);
      expect(loaded.headers["content-type"]).toContain("javascript");
    }
    expect((await send("/app.css")).headers["content-type"]).toContain("text/css");
    expect((await send("/secrets")).status).toBe(404);
    expect((await send("/", { method: "POST" })).status).toBe(405);
    expect(seen).toEqual([]);
  });

  it("forwards /api/* to the API's origin with only the headers it needs, and copies the answer back", async () => {
    ui = await serveUi({ apiUrl: `${apiUrl}/prod`, signer: null, port: 0 });
    const answer = await send("/api/jobs/a%20b?job=x&job=y", {
      method: "PUT",
      headers: {
        "content-type": "application/json",
        "if-match": '"6"',
        cookie: "ui=secret",
        authorization: "Bearer from-the-page",
        origin: ui.url,
      },
      body: '{"enabled":true}',
    });
    expect(answer.status).toBe(200);
    expect(answer.headers.etag).toBe('"7"');
    expect(answer.headers["set-cookie"]).toBeUndefined();
    expect(JSON.parse(answer.body)).toEqual({ ok: true });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: "PUT", url: "/prod/jobs/a%20b?job=x&job=y", body: '{"enabled":true}' });
    expect(seen[0]!.headers).toMatchObject({ "content-type": "application/json", "if-match": '"6"' });
    for (const name of ["cookie", "authorization", "origin"]) expect(seen[0]!.headers[name]).toBeUndefined();
    expect(seen[0]!.headers.host).toBe(new URL(apiUrl).host);
    expect((await send("/api/missing")).status).toBe(404);
  });

  it("never lets the page's path choose another host", async () => {
    ui = await serveUi({ apiUrl, signer: null, port: 0 });
    for (const path of ["/api/http://evil.example/x", "/api//evil.example/x", "/api/..%2f..%2fetc"]) {
      expect((await send(path)).status).toBe(200);
    }
    expect(seen.map((s) => s.headers.host)).toEqual(Array(3).fill(new URL(apiUrl).host));
  });

  it("signs each forwarded request when given a signer", async () => {
    const signed: { method: string; url: string; body: string | undefined }[] = [];
    const signer: RequestSigner = ({ method, url, headers, body }) => {
      signed.push({ method, url: url.href, body });
      return Promise.resolve({ ...headers, authorization: "AWS4-HMAC-SHA256 test", "x-amz-date": "20261201T000000Z" });
    };
    ui = await serveUi({ apiUrl, signer, port: 0 });
    await send("/api/", { method: "POST", body: '{"a":{"handler":"jobs"}}', headers: { origin: ui.url } });
    expect(signed).toEqual([{ method: "POST", url: `${apiUrl}/`, body: '{"a":{"handler":"jobs"}}' }]);
    expect(seen[0]!.headers.authorization).toBe("AWS4-HMAC-SHA256 test");
    expect(seen[0]!.headers["x-amz-date"]).toBe("20261201T000000Z");
  });

  it("refuses foreign Hosts and cross-site state changes before forwarding anything", async () => {
    ui = await serveUi({ apiUrl, signer: null, port: 0 });
    expect((await send("/", { headers: { host: `evil.example:${ui.port}` } })).status).toBe(421);
    expect((await send("/api/jobs", { headers: { host: "evil.example" } })).status).toBe(421);
    const crossSite = await send("/api/tasks/j/n/kill", { method: "POST", headers: { origin: "http://evil.example" } });
    expect(crossSite.status).toBe(403);
    expect(seen).toEqual([]);
    const sameSite = await send("/api/tasks/j/n/kill", { method: "POST", headers: { origin: ui.url } });
    expect(sameSite.status).toBe(200);
    expect(seen).toHaveLength(1);
  });

  it("answers 502 when the API is down and 413 past the body limit", async () => {
    ui = await serveUi({ apiUrl: "http://127.0.0.1:1", signer: null, port: 0, onProxyError: () => undefined });
    const down = await send("/api/jobs");
    expect(down.status).toBe(502);
    expect(down.body).toContain("cannot be reached");
    const big = await send("/api/config", {
      method: "PUT",
      body: "x".repeat(MAX_PROXY_BODY_BYTES + 1),
      headers: { origin: ui.url },
    });
    expect(big.status).toBe(413);
  });
});
