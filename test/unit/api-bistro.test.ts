// The pure parts of the API: Bistro's multi-query envelope, histogram codes and histograms
//, path matching, and the one error mapping.
import fc from "fast-check";
import { parseBistroBody, runBistroQueries } from "../../lib/api/bistro";
import { mapError, publicMessage, UnsupportedMediaTypeError, ValidationError } from "../../lib/api/errors";
import {
  decodeHistogramCode,
  HISTOGRAM_ALPHABET,
  histogramCode,
  jobHistogram,
  MONITOR_SAMPLES,
  type HistogramTask,
} from "../../lib/api/histogram";
import { findRoute, matchPath, parseJsonBody, type ApiRoute } from "../../lib/api/http";
import { StatusBits, StatusValues, type TaskStatus } from "../../lib/model/status";
import { buildNodeTree, type NodeSpec } from "../../lib/model/tree";
import { ConflictError, NotFoundError } from "../../lib/store/errors";
import { configDocument, parseValid } from "../helpers/config";

describe("histogram codes (bistro/py/task_bits.py)", () => {
  it("encodes single status bits as Bistro's web UI reads them", () => {
    // ALPHA[bits & 63], then ALPHA[bits >> 6] only when non-zero.
    expect(histogramCode(StatusBits.UNSTARTED)).toBe("B");
    expect(histogramCode(StatusBits.RUNNING)).toBe("C");
    expect(histogramCode(StatusBits.DONE)).toBe("E");
    expect(histogramCode(StatusBits.FAILED)).toBe("Q");
    expect(histogramCode(StatusBits.ERROR)).toBe("g");
    expect(histogramCode(StatusBits.USES_BACKOFF)).toBe("AB");
    expect(histogramCode(StatusBits.AVOIDED)).toBe("AC");
    expect(histogramCode(StatusBits.DISABLED)).toBe("AE");
    expect(histogramCode(StatusValues.ERROR_BACKOFF)).toBe("gB");
    expect(histogramCode(0)).toBe("A");
  });

  it("is one or two characters of the base64url alphabet, unique per bit set, and decodes back", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4095 }), fc.integer({ min: 0, max: 4095 }), (a, b) => {
        const code = histogramCode(a);
        expect(code.length).toBe(a >> 6 ? 2 : 1);
        for (const char of code) expect(HISTOGRAM_ALPHABET).toContain(char);
        expect(decodeHistogramCode(code)).toBe(a);
        if (a !== b) expect(histogramCode(b)).not.toBe(code);
      }),
    );
  });

  it("refuses bits it cannot encode and strings that are not codes", () => {
    expect(() => histogramCode(4096)).toThrow(RangeError);
    expect(() => histogramCode(-1)).toThrow(RangeError);
    expect(() => decodeHistogramCode("AA")).toThrow(RangeError); // a zero high part is never written
    expect(() => decodeHistogramCode("!")).toThrow(RangeError);
  });
});

describe("jobHistogram (Monitor.cpp semantics)", () => {
  // instance -> host1 (db11, db12), host2 (db21, db22), host3 disabled (db31)
  const config = parseValid(
    configDocument(
      { j: { owner: "o", filters: { db: { blacklist: ["db12"] } } } },
      {
        enabled: true,
        nodes: { levels: ["host", "db"] },
        resources: {},
      },
    ),
  );
  const job = config.jobs.j!;
  const specs: NodeSpec[] = [
    { name: "host1", level: "host", parent: "scheduler" },
    { name: "host2", level: "host", parent: "scheduler" },
    { name: "host3", level: "host", parent: "scheduler", enabled: false },
    { name: "db11", level: "db", parent: "host1" },
    { name: "db12", level: "db", parent: "host1" },
    { name: "db21", level: "db", parent: "host2" },
    { name: "db22", level: "db", parent: "host2" },
    { name: "db31", level: "db", parent: "host3" },
  ];
  const tree = buildNodeTree(["host", "db"], "scheduler", specs);
  const nowSec = 10_000;
  const status = (bits: number, timeSec: number, backoffSec = 0): TaskStatus => ({ bits, timeSec, backoffSec });

  it("ORs each node's bits into its ancestors and counts nodes per code on every level", () => {
    const tasks = new Map<string, HistogramTask>([
      ["db11", { running: true, status: status(StatusValues.DONE, 1) }],
      ["db21", { running: false, status: status(StatusValues.ERROR_BACKOFF, nowSec - 10, 60) }], // still backing off
      ["db22", { running: false, status: status(StatusValues.ERROR_BACKOFF, nowSec - 100, 60) }], // backoff over
    ]);
    const { counts, samples } = jobHistogram(tree, job, tasks, nowSec);
    const code = histogramCode;
    const { RUNNING, AVOIDED, DISABLED, UNSTARTED, ERROR, USES_BACKOFF } = StatusBits;
    expect(counts.db).toEqual({
      [code(RUNNING)]: 1, // db11: running wins over its previous status
      [code(AVOIDED)]: 1, // db12: blacklisted, no status
      [code(ERROR | USES_BACKOFF)]: 1, // db21: in backoff
      [code(ERROR)]: 1, // db22: USES_BACKOFF cleared once the backoff is over
      [code(DISABLED)]: 1, // db31: its host is disabled
    });
    expect(counts.host).toEqual({
      [code(RUNNING | AVOIDED)]: 1,
      [code(ERROR | USES_BACKOFF)]: 1, // db21 | db22
      [code(DISABLED)]: 1,
    });
    expect(counts.instance).toEqual({ [code(RUNNING | AVOIDED | ERROR | USES_BACKOFF | DISABLED)]: 1 });
    expect(samples.db?.[code(AVOIDED)]).toEqual(["db12"]);
    expect(samples.instance).toEqual({ [code(RUNNING | AVOIDED | ERROR | USES_BACKOFF | DISABLED)]: ["scheduler"] });
    // Nodes that could run and have no status are UNSTARTED.
    const idle = jobHistogram(tree, job, new Map(), nowSec);
    expect(idle.counts.db?.[code(UNSTARTED)]).toBe(3); // db11, db21, db22
  });

  it("keeps at most MONITOR_SAMPLES sample names per code, in tree order", () => {
    const many = buildNodeTree(["host", "db"], "scheduler", [
      { name: "h", level: "host", parent: "scheduler" },
      ...Array.from({ length: 25 }, (_, i): NodeSpec => ({
        name: `d${String(i).padStart(2, "0")}`,
        level: "db",
        parent: "h",
      })),
    ]);
    const plain = parseValid(
      configDocument({ j: { owner: "o" } }, { enabled: true, nodes: { levels: ["host", "db"] }, resources: {} }),
    );
    const { counts, samples } = jobHistogram(many, plain.jobs.j!, new Map(), nowSec);
    expect(counts.db).toEqual({ [histogramCode(StatusBits.UNSTARTED)]: 25 });
    expect(samples.db?.[histogramCode(StatusBits.UNSTARTED)]).toEqual(
      Array.from({ length: MONITOR_SAMPLES }, (_, i) => `d${String(i).padStart(2, "0")}`),
    );
  });

  it("is empty for a job whose level has no nodes", () => {
    const workerJob = { ...job, levelForTasks: "worker" };
    expect(jobHistogram(tree, workerJob, new Map(), nowSec)).toEqual({ counts: {}, samples: {} });
  });
});

describe("Bistro's envelope", () => {
  it("takes a JSON object of named queries and drops the top-level prefs", () => {
    const parsed = parseBistroBody('{"a": {"handler": "jobs"}, "prefs": {"x": 1}, "b": {"handler": "errors"}}');
    expect(parsed).toEqual({
      ok: true,
      queries: [
        ["a", { handler: "jobs" }],
        ["b", { handler: "errors" }],
      ],
    });
  });

  it("refuses a body that is not JSON, or not an object, as a whole", () => {
    const notJson = parseBistroBody("a=b");
    expect(notJson.ok).toBe(false);
    if (!notJson.ok) expect(notJson.error).toMatch(/^Invalid JSON body: /);
    expect(parseBistroBody("[1, 2]").ok).toBe(false);
    expect(parseBistroBody(undefined).ok).toBe(false);
  });

  it("answers each subquery under its own name, data or error, in order", async () => {
    const internal: string[] = [];
    const answers = await runBistroQueries(
      [
        ["ok", 1],
        ["bad", 2],
        ["boom", 3],
        ["missing", 4],
      ],
      (query) => {
        if (query === 2) throw new ValidationError("Unknown handler: nope");
        if (query === 3) return Promise.reject(new Error("socket hang up at 10.0.0.1"));
        if (query === 4) return Promise.reject(new NotFoundError("Unknown job x"));
        return Promise.resolve({ value: query });
      },
      (name) => internal.push(name),
    );
    expect(Object.keys(answers)).toEqual(["ok", "bad", "boom", "missing"]);
    expect(answers.ok).toEqual({ data: { value: 1 } });
    expect(answers.bad).toEqual({ error: "Unknown handler: nope" });
    expect(answers.missing).toEqual({ error: "Unknown job x" });
    // An unexpected error's details stay in the log.
    expect(answers.boom).toEqual({ error: expect.not.stringContaining("10.0.0.1") as unknown });
    expect(internal).toEqual(["boom"]);
  });
});

describe("routing and bodies", () => {
  const route = (method: ApiRoute["method"], path: string): ApiRoute => ({
    method,
    path,
    body: "none",
    run: () => Promise.reject(new Error("not run")),
  });
  const routes = [
    route("GET", "/jobs/{name}"),
    route("PUT", "/jobs/{name}"),
    route("POST", "/tasks/{job}/{node}/kill"),
  ];

  it("decodes path parameters and tolerates a trailing slash", () => {
    expect(matchPath("/tasks/{job}/{node}/kill", "/tasks/my%20job/db%2F1/kill/")).toEqual({
      job: "my job",
      node: "db/1",
    });
    expect(matchPath("/jobs/{name}", "/jobs")).toBeUndefined();
    expect(matchPath("/jobs/{name}", "/jobs/a/b")).toBeUndefined();
    expect(() => matchPath("/jobs/{name}", "/jobs/%E0%A4%A")).toThrow(ValidationError);
  });

  it("tells a wrong method (405 with Allow) from an unknown path (404)", () => {
    expect(findRoute(routes, "put", "/jobs/x").route.method).toBe("PUT");
    let error: unknown;
    try {
      findRoute(routes, "DELETE", "/jobs/x");
    } catch (e) {
      error = e;
    }
    expect(mapError(error)).toMatchObject({ status: 405, headers: { allow: "GET, PUT" } });
    expect(() => findRoute(routes, "GET", "/nope")).toThrow(/No route for GET \/nope/);
  });

  it("parses JSON bodies: 415 without a JSON content type, 400 (ValidationError) for malformed JSON", () => {
    expect(parseJsonBody({ "content-type": "application/json; charset=utf-8" }, '{"a":1}')).toEqual({ a: 1 });
    expect(parseJsonBody({ "content-type": "application/vnd.sous+json" }, "[]")).toEqual([]);
    expect(() => parseJsonBody({}, '{"a":1}')).toThrow(UnsupportedMediaTypeError);
    expect(() => parseJsonBody({ "content-type": "application/json" }, "{")).toThrow(ValidationError);
    expect(() => parseJsonBody({ "content-type": "application/json" }, "{")).toThrow(/^The body is not valid JSON: /);
  });
});

describe("the one error mapping", () => {
  it("lists every issue of a validation error with a 400", () => {
    const issues = [
      { path: "bistro_settings.enabled", message: "expected true or false" },
      { path: "bistro_settings.nodes.levels", message: "expected an array" },
    ];
    const mapped = mapError(new ValidationError("The config is invalid", issues));
    expect(mapped.status).toBe(400);
    expect(mapped.body.error.issues).toEqual(issues);
    expect(publicMessage(new ValidationError("bad", issues))).toBe(
      "bad\nbistro_settings.enabled: expected true or false\nbistro_settings.nodes.levels: expected an array",
    );
  });

  it("maps typed errors and HTTP errors from middleware, and hides everything else", () => {
    expect(mapError(new NotFoundError("x")).status).toBe(404);
    expect(mapError(new ConflictError("x")).status).toBe(409);
    const middyError = Object.assign(new Error("Unsupported Media Type"), { statusCode: 415, expose: true });
    expect(mapError(middyError)).toMatchObject({ status: 415, body: { error: { message: "Unsupported Media Type" } } });
    const secret = mapError(new Error("password=hunter2"));
    expect(secret.status).toBe(500);
    expect(secret.internal).toBe(true);
    expect(JSON.stringify(secret.body)).not.toContain("hunter2");
    expect(mapError(Object.assign(new Error("x"), { statusCode: 503 })).status).toBe(500);
  });
});
