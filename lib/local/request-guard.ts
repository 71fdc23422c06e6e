// What a loopback HTTP server of `sous local` (the API, the UI) accepts from a browser: the
// `Host` header must name the loopback address and port served (no DNS rebinding), a request
// that changes state must not come from a foreign `Origin` (no cross-site POST from a web page),
// and CORS names allowed origins only, never `*`. Clients that send no `Origin` (curl, Bistro's
// Python client, the CLI) are not browsers driven by a page and pass unchanged.

/** Methods that only read; every other method may change state. */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export interface RequestGuardOptions {
  /** The port served on the loopback interface. */
  port: number;
  /** Origins besides the server's own that may change state, e.g. the UI server's `http://127.0.0.1:6791`. */
  allowedOrigins?: readonly string[];
}

export type GuardVerdict =
  | {
      ok: true;
      /** CORS headers for this answer (empty unless the origin is allowed). */ headers: Record<string, string>;
    }
  | { ok: false; status: 403 | 421; message: string };

export interface RequestGuard {
  /** The origins allowed to change state (the server's own first). */
  readonly allowedOrigins: readonly string[];
  check(request: { method: string; headers: Readonly<Record<string, string | string[] | undefined>> }): GuardVerdict;
}

/** The loopback names a browser may use for this server, as `Host` values and origins. */
export function loopbackHosts(port: number): string[] {
  return [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`];
}

function header(headers: Readonly<Record<string, string | string[] | undefined>>, name: string): string | undefined {
  const value = headers[name] ?? headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** Normalizes an origin (`scheme://host[:port]`, lower case, no path); undefined if it is not one. */
export function normalizeOrigin(origin: string): string | undefined {
  try {
    const url = new URL(origin);
    if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
    return url.origin.toLowerCase();
  } catch {
    return undefined;
  }
}

export function makeRequestGuard(options: RequestGuardOptions): RequestGuard {
  const hosts = new Set(loopbackHosts(options.port));
  const origins = [
    ...loopbackHosts(options.port).map((host) => `http://${host}`),
    ...(options.allowedOrigins ?? []).flatMap((origin) => {
      const normalized = normalizeOrigin(origin);
      if (normalized === undefined) throw new Error(`Not an origin (scheme://host[:port]): ${origin}`);
      return [normalized];
    }),
  ];
  const allowed = new Set(origins);
  return {
    allowedOrigins: origins,
    check(request) {
      const host = header(request.headers, "host")?.toLowerCase();
      if (host === undefined || !hosts.has(host)) {
        return {
          ok: false,
          status: 421,
          message: `Host ${JSON.stringify(host ?? "")} is not served here: use one of ${[...hosts].join(", ")}`,
        };
      }
      const originHeader = header(request.headers, "origin");
      const normalized = originHeader === undefined ? undefined : normalizeOrigin(originHeader);
      const origin = normalized !== undefined && allowed.has(normalized) ? normalized : undefined;
      const originAllowed = origin !== undefined;
      const method = request.method.toUpperCase();
      if (!SAFE_METHODS.has(method)) {
        // A browser sends Origin with every cross-site POST ("null" from sandboxed pages and files).
        // Without one, Sec-Fetch-Site still tells a cross-site request from a browser.
        const fetchSite = header(request.headers, "sec-fetch-site");
        const foreign =
          originHeader !== undefined
            ? !originAllowed
            : fetchSite !== undefined && fetchSite !== "same-origin" && fetchSite !== "none";
        if (foreign) {
          return {
            ok: false,
            status: 403,
            message: `Origin ${JSON.stringify(originHeader ?? fetchSite)} may not change state here; allowed: ${origins.join(", ")}`,
          };
        }
      }
      return {
        ok: true,
        headers: origin !== undefined ? { "access-control-allow-origin": origin, vary: "Origin" } : { vary: "Origin" },
      };
    },
  };
}
