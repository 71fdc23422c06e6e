// The loopback request guard of `sous local`'s servers: Host names the loopback address served,
// foreign origins cannot change state, CORS names allowed origins only, and clients without an
// Origin (curl, Bistro's Python client) pass.
import { loopbackHosts, makeRequestGuard, normalizeOrigin } from "../../lib/local/request-guard";

const guard = makeRequestGuard({ port: 6790, allowedOrigins: ["http://127.0.0.1:6791"] });
const check = (method: string, headers: Record<string, string>) => guard.check({ method, headers });

describe("request guard", () => {
  it("serves only the loopback Host names of its port", () => {
    for (const host of loopbackHosts(6790)) expect(check("GET", { host }).ok).toBe(true);
    for (const host of ["evil.example", "evil.example:6790", "127.0.0.1:80", "127.0.0.1", "localhost:6791", ""]) {
      expect(check("GET", { host })).toMatchObject({ ok: false, status: 421 });
    }
    expect(check("GET", {})).toMatchObject({ ok: false, status: 421 });
  });

  it("refuses state changes from foreign origins, sandboxed pages and cross-site fetches", () => {
    const host = "127.0.0.1:6790";
    for (const origin of ["http://evil.example", "null", "http://127.0.0.1:9999", "https://127.0.0.1:6790", "x"]) {
      for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
        expect(check(method, { host, origin })).toMatchObject({ ok: false, status: 403 });
      }
    }
    expect(check("POST", { host, "sec-fetch-site": "cross-site" })).toMatchObject({ ok: false, status: 403 });
    expect(check("POST", { host, "sec-fetch-site": "same-site" })).toMatchObject({ ok: false, status: 403 });
  });

  it("lets reads through without CORS for a foreign origin, so the page cannot read the answer", () => {
    const verdict = check("GET", { host: "localhost:6790", origin: "http://evil.example" });
    expect(verdict).toEqual({ ok: true, headers: { vary: "Origin" } });
  });

  it("accepts the server's own origins and the allowed ones, with CORS naming exactly that origin", () => {
    for (const origin of [
      "http://127.0.0.1:6790",
      "http://localhost:6790",
      "http://[::1]:6790",
      "http://127.0.0.1:6791",
    ]) {
      expect(check("POST", { host: "127.0.0.1:6790", origin })).toEqual({
        ok: true,
        headers: { "access-control-allow-origin": origin, vary: "Origin" },
      });
    }
  });

  it("accepts clients that send no Origin: curl -d, Bistro's Python client, the CLI", () => {
    expect(check("POST", { host: "127.0.0.1:6790", "content-type": "application/x-www-form-urlencoded" }).ok).toBe(
      true,
    );
    expect(check("POST", { host: "localhost:6790" }).ok).toBe(true);
    expect(check("POST", { host: "localhost:6790", "sec-fetch-site": "same-origin" }).ok).toBe(true);
  });

  it("names a bad allowed origin at construction", () => {
    expect(() => makeRequestGuard({ port: 1, allowedOrigins: ["not an origin"] })).toThrow(/Not an origin/);
    expect(normalizeOrigin("HTTP://LOCALHOST:6790/")).toBe("http://localhost:6790");
  });
});
