// The CLI's pure parts: where the API is, SigV4 signing for non-loopback URLs, error answers and
// exit codes, the dry-run diff, tables, --resources, and the HTTP control plane's answers.
import { ApiClient, ApiHttpError, ApiUnreachableError, regionForUrl, resolveApiUrl } from "../../lib/cli/client";
import { sigV4Signer } from "../../lib/aws/request-signer";
import { diffConfigs, formatDiff } from "../../lib/config/diff";
import { EXIT, exitCodeOf, formatTable } from "../../lib/cli/io";
import { roundLeftNothingToRun } from "../../lib/cli/local";
import { UsageError } from "../../lib/cli/usage-error";
import { emptyRoundReport } from "../../lib/round/round-types";
import { parseResources } from "../../lib/cli/worker";
import { ConflictError } from "../../lib/store/errors";
import { HttpControlPlane } from "../../lib/worker/http-control-plane";

interface Sent {
  url: string;
  headers: Record<string, string>;
  body: string | undefined;
}

/** A fetch that records requests and answers with `status` and `body`. */
function recordingFetch(status: number, body: unknown): { fetch: typeof fetch; sent: Sent[] } {
  const sent: Sent[] = [];
  const fake: typeof fetch = (input, init) => {
    sent.push({
      url: typeof input === "string" ? input : input instanceof URL ? input.href : input.url,
      headers: { ...(init?.headers as Record<string, string>) },
      body: init?.body as string | undefined,
    });
    return Promise.resolve(Response.json(body, { status }));
  };
  return { fetch: fake, sent };
}

const credentials = () =>
  Promise.resolve({ accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret", sessionToken: "tok" });

describe("where the API is", () => {
  test("--api, then SOUS_API, then sous local's default", () => {
    expect(resolveApiUrl("https://a.example/prod/", { SOUS_API: "http://b" })).toBe("https://a.example/prod");
    expect(resolveApiUrl(undefined, { SOUS_API: "http://127.0.0.1:9999" })).toBe("http://127.0.0.1:9999");
    expect(resolveApiUrl(undefined, {})).toBe("http://127.0.0.1:6790");
    expect(() => resolveApiUrl("not a url", {})).toThrow(UsageError);
  });

  test("the region comes from an execute-api host, else AWS_REGION", () => {
    expect(regionForUrl("https://abc123.execute-api.eu-west-3.amazonaws.com/prod", {})).toBe("eu-west-3");
    expect(regionForUrl("https://sous.example.com", { AWS_REGION: "ap-south-1" })).toBe("ap-south-1");
    expect(() => regionForUrl("https://sous.example.com", {})).toThrow(UsageError);
  });
});

describe("sous local's end of the demo", () => {
  const round = (started: number, running: number, runnablePending: number) => ({
    ...emptyRoundReport(1, 5),
    started: Array.from({ length: started }, (_, i) => ({ job: "j", node: `n${i}`, attempt: `r1.${i}`, worker: "w" })),
    backlog: { running, runnablePending },
  });

  it("comes only from a round that saw nothing running and nothing it could start", () => {
    expect(roundLeftNothingToRun(round(0, 0, 0))).toBe(true);
    // Started nothing because every slot was taken: the tasks waiting for room still run later.
    expect(roundLeftNothingToRun(round(0, 3, 1))).toBe(false);
    expect(roundLeftNothingToRun(round(0, 3, 0))).toBe(false);
    expect(roundLeftNothingToRun(round(0, 0, 1))).toBe(false);
    expect(roundLeftNothingToRun(round(1, 1, 0))).toBe(false);
  });
});

describe("SigV4 signing", () => {
  const url = "https://abc123.execute-api.eu-west-3.amazonaws.com/prod";

  test("requests to a remote API are signed for execute-api in the URL's region, body included", async () => {
    const { fetch, sent } = recordingFetch(200, { ok: true });
    const client = new ApiClient({ baseUrl: url, fetch, signer: sigV4Signer("eu-west-3", credentials) });
    await client.request("PUT", "/config", { body: { a: 1 }, query: { job: ["x", "y"] } });
    await client.request("PUT", "/config", { body: { a: 2 }, query: { job: ["x", "y"] } });
    const [first, second] = sent;
    expect(first?.url).toBe(`${url}/config?job=x&job=y`);
    const auth = first?.headers.authorization ?? "";
    expect(auth).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-3\/execute-api\/aws4_request, /);
    expect(auth).toMatch(/SignedHeaders=[^,]*host[^,]*x-amz-date/);
    expect(first?.headers["x-amz-security-token"]).toBe("tok");
    const signature = (headers: Record<string, string> | undefined) =>
      /Signature=(\w+)/.exec(headers?.authorization ?? "")?.[1];
    expect(signature(first?.headers)).not.toBe(signature(second?.headers));
  });

  test("the default signer uses the SDK's credential chain for remote URLs and leaves loopback ones plain", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: "AKIDFROMENV", AWS_SECRET_ACCESS_KEY: "secret" });
    delete process.env.AWS_PROFILE;
    try {
      const remote = recordingFetch(200, {});
      await new ApiClient({ baseUrl: url, fetch: remote.fetch }).request("GET", "/jobs");
      expect(remote.sent[0]?.headers.authorization).toMatch(/Credential=AKIDFROMENV\/\d{8}\/eu-west-3\/execute-api\//);
      const local = recordingFetch(200, {});
      await new ApiClient({ baseUrl: "http://127.0.0.1:6790", fetch: local.fetch }).request("GET", "/jobs");
      expect(local.sent[0]?.headers.authorization).toBeUndefined();
    } finally {
      process.env = saved;
    }
  });
});

describe("error answers and exit codes", () => {
  test("an API error keeps its message and every issue", async () => {
    const issues = [
      { path: "bistro_settings.enabled", message: "expected true or false" },
      { path: "bistro_settings.resources", message: "bad" },
    ];
    const { fetch } = recordingFetch(400, { error: { status: 400, code: "invalid_request", message: "Nope", issues } });
    const error = await new ApiClient({ baseUrl: "http://127.0.0.1:1", fetch })
      .request("PUT", "/config", { body: {} })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiHttpError);
    expect(error).toMatchObject({ status: 400, code: "invalid_request", message: "Nope", issues });
  });

  test("API Gateway's own refusals ({message}) are read too", async () => {
    const { fetch } = recordingFetch(403, { message: "The security token included in the request is invalid." });
    const error = await new ApiClient({ baseUrl: "http://127.0.0.1:1", fetch })
      .request("GET", "/jobs")
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 403, message: "The security token included in the request is invalid." });
  });

  test("no answer at all is ApiUnreachableError naming the URL", async () => {
    const failing: typeof fetch = () =>
      Promise.reject(new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } }));
    const error = await new ApiClient({ baseUrl: "http://127.0.0.1:7", fetch: failing })
      .request("GET", "/jobs")
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiUnreachableError);
    expect((error as Error).message).toContain(
      "http://127.0.0.1:7: is `sous local` running? (or pass --api) [ECONNREFUSED]",
    );
  });

  test.each([
    [new UsageError("x"), EXIT.usage],
    [new ApiHttpError(400, "invalid_request", "x", []), EXIT.usage],
    [new ApiHttpError(404, "not_found", "x", []), EXIT.notFound],
    [new ApiHttpError(409, "conflict", "x", []), EXIT.conflict],
    [new ConflictError("x"), EXIT.conflict],
    [new ApiHttpError(500, "internal", "x", []), EXIT.unexpected],
    [new ApiUnreachableError("u", "r"), EXIT.unreachable],
    [new Error("x"), EXIT.unexpected],
  ])("%p exits %p", (error, code) => {
    expect(exitCodeOf(error)).toBe(code);
  });
});

describe("apply --dry-run's diff", () => {
  test("jobs added, removed, changed (by key), settings keys changed; key order is no change", () => {
    const stored = {
      bistro_settings: { enabled: true, nodes: { levels: ["a"] } },
      "bistro_job->keep": { owner: "x", enabled: true },
      "bistro_job->edit": { owner: "x", priority: 1, config: { a: 1, b: 2 } },
      "bistro_job->gone": { owner: "x" },
    };
    const next = {
      bistro_settings: { nodes: { levels: ["a"] }, enabled: false },
      "bistro_job->keep": { enabled: true, owner: "x" },
      "bistro_job->edit": { owner: "x", priority: 2, config: { b: 2, a: 1 } },
      "bistro_job->new": { owner: "y" },
    };
    const diff = diffConfigs(stored, next);
    expect(diff).toEqual({
      settingsChanged: ["enabled"],
      jobsAdded: ["new"],
      jobsRemoved: ["gone"],
      jobsChanged: { edit: ["priority"] },
    });
    expect(formatDiff(diff)).toEqual(["~ bistro_settings.enabled", "+ job new", "- job gone", "~ job edit (priority)"]);
    expect(formatDiff(diffConfigs(next, next))).toEqual(["No changes."]);
  });
});

test("tables pad every column but the last to its widest cell", () => {
  expect(
    formatTable(
      ["A", "BB"],
      [
        ["long", "x"],
        ["s", "yy"],
      ],
    ),
  ).toEqual(["A     BB", "long  x", "s     yy"]);
});

test("--resources takes name=amount pairs", () => {
  expect(parseResources("cpu=4, ram_gb=16")).toEqual({ cpu: 4, ram_gb: 16 });
  expect(parseResources("")).toEqual({});
  expect(() => parseResources("cpu=1.5")).toThrow(UsageError);
  expect(() => parseResources("cpu")).toThrow(UsageError);
});

describe("HttpControlPlane", () => {
  const registration = { id: "w1", hostname: "h", instanceId: "i1", resources: {}, heartbeatPeriodSec: 15 };
  const timings = {
    heartbeatPeriodSec: 15,
    heartbeatGraceSec: 60,
    loseUnhealthyAfterSec: 500,
    workerCheckIntervalSec: 5,
  };

  test("registers with POST /workers and heartbeats with POST /workers/{id}/heartbeat", async () => {
    const posts: [string, unknown][] = [];
    const plane = new HttpControlPlane((path, body) => {
      posts.push([path, body]);
      return Promise.resolve(
        path === "/workers"
          ? { status: 201, body: { queueUrl: "q", statusQueueUrl: "s", timings, heartbeatSecret: "k" } }
          : { status: 200, body: { ok: false, reason: "replaced" } },
      );
    });
    expect(await plane.register(registration)).toEqual({
      queueUrl: "q",
      statusQueueUrl: "s",
      timings,
      heartbeatSecret: "k",
    });
    expect(await plane.heartbeat({ id: "w 1", instanceId: "i1", secret: "k" })).toEqual({
      ok: false,
      reason: "replaced",
    });
    expect(posts).toEqual([
      ["/workers", registration],
      ["/workers/w%201/heartbeat", { instanceId: "i1", secret: "k" }],
    ]);
  });

  test("a 409 is a ConflictError with the API's message; a malformed answer throws", async () => {
    const conflict = new HttpControlPlane(() =>
      Promise.resolve({ status: 409, body: { error: { message: "held by a live instance" } } }),
    );
    await expect(conflict.register(registration)).rejects.toThrow(new ConflictError("held by a live instance"));
    const odd = new HttpControlPlane(() => Promise.resolve({ status: 200, body: { ok: "maybe" } }));
    await expect(odd.heartbeat({ id: "w1", instanceId: "i1", secret: "k" })).rejects.toThrow(/unexpected answer/);
  });
});
