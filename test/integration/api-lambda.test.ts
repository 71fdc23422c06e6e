// functions/api.ts invoked with API Gateway REST (v1 proxy) fixture events (events/apigw/):
// middy's router and JSON body parser, Bistro's raw POST /, lib/api's error shape for errors
// raised by middleware, CORS, and pokes as asynchronous invokes of the round function. Each
// call gets a fresh copy of its fixture: middy's body parser replaces `event.body` in place.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { CreateQueueCommand } from "@aws-sdk/client-sqs";
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { parseConfig } from "../../lib/config";
import { uniqueName } from "../helpers/aws";
import { freshStore } from "../helpers/store";

type Handler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

const lambda = mockClient(LambdaClient);
let store: Awaited<ReturnType<typeof freshStore>>;
let handler: Handler;

const context = {
  awsRequestId: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
  functionName: "sous-api",
  functionVersion: "$LATEST",
  invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:sous-api",
  memoryLimitInMB: "512",
  logGroupName: "/aws/lambda/sous-api",
  logStreamName: "2026/11/23/[$LATEST]abc",
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 29_000,
} as Context; // the deprecated callback members are left out

function fixture(name: string): APIGatewayProxyEvent {
  const file = join(__dirname, "..", "..", "events", "apigw", name);
  return JSON.parse(readFileSync(file, "utf8")) as APIGatewayProxyEvent;
}

const bistroText = (name: string) => readFileSync(join(__dirname, "..", "..", "events", "bistro", name), "utf8");

async function invoke(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult & { json: unknown }> {
  const result = await handler(event, context);
  return { ...result, json: result.body === "" ? undefined : (JSON.parse(result.body) as unknown) };
}

/** A fixture with another method, path or body. */
function variant(name: string, changes: Partial<APIGatewayProxyEvent>): APIGatewayProxyEvent {
  return { ...fixture(name), ...changes };
}

function withoutContentType(event: APIGatewayProxyEvent): APIGatewayProxyEvent {
  const { "Content-Type": _h, ...headers } = event.headers;
  const { "Content-Type": _m, ...multiValueHeaders } = event.multiValueHeaders;
  return { ...event, headers, multiValueHeaders };
}

const invokes = () => lambda.commandCalls(InvokeCommand).map((call) => call.args[0].input);

beforeAll(async () => {
  store = await freshStore();
  const { QueueUrl } = await store.aws.sqs.send(new CreateQueueCommand({ QueueName: uniqueName("status") }));
  Object.assign(process.env, {
    TABLE_NAME: store.tableName,
    WORKER_QUEUE_PREFIX: uniqueName("lambda"),
    STATUS_QUEUE_URL: QueueUrl,
    ROUND_FUNCTION_NAME: "sous-scheduler-round",
    INSTANCE_NODE_NAME: "scheduler",
    POWERTOOLS_LOG_LEVEL: "SILENT",
  });
  delete process.env.LOG_BUCKET;
  ({ handler } = (await import("../../functions/api")) as { handler: Handler });
});
afterAll(() => {
  lambda.restore();
  store.destroy();
});
beforeEach(() => {
  lambda.reset();
  lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
});

describe("functions/api.ts with API Gateway events", () => {
  it("PUT /config stores the config and pokes the round function with an async invoke", async () => {
    const result = await invoke(fixture("put-config.json"));
    expect(result.statusCode).toBe(200);
    expect(result.json).toMatchObject({ version: 1, invalidJobs: {} });
    expect(result.headers).toMatchObject({ "content-type": "application/json; charset=utf-8", etag: '"1"' });
    expect(result.headers?.["access-control-allow-origin"]).toBe("*");
    expect(invokes()).toEqual([
      expect.objectContaining({ FunctionName: "sous-scheduler-round", InvocationType: "Event" }),
    ]);
  });

  it("refuses an invalid config with every problem listed and keeps the stored one", async () => {
    const text = bistroText("invalid-wrong-types.json");
    const expected = parseConfig(text);
    if (expected.ok) throw new Error("fixture should be invalid");
    const result = await invoke(variant("put-config.json", { body: text }));
    expect(result.statusCode).toBe(400);
    expect(at(result.json, "error", "issues")).toEqual(expected.errors);
    expect(invokes()).toEqual([]);
    const config = await invoke(variant("get-jobs.json", { path: "/config" }));
    expect(config.json).toMatchObject({ version: 1, config: JSON.parse(bistroText("simple.json")) as unknown });
  });

  it("answers 415 without a JSON content type and 400 for malformed or too deep JSON, in lib/api's error shape", async () => {
    const noType = await invoke(withoutContentType(fixture("put-job.json")));
    expect(noType.statusCode).toBe(415);
    expect(at(noType.json, "error")).toMatchObject({ status: 415 });
    expect(at(noType.json, "error", "message")).toMatch(/^Unsupported Media Type/);
    const malformed = await invoke(variant("put-job.json", { body: "{owner:" }));
    expect(malformed.statusCode).toBe(400);
    expect(at(malformed.json, "error", "message")).toMatch(/^The body is not valid JSON: /);
    const deep = await invoke(variant("put-job.json", { body: "[".repeat(5000) + "]".repeat(5000) }));
    expect(deep.statusCode).toBe(400);
    expect(at(deep.json, "error", "message")).toMatch(/MAX_JSON_DEPTH/);
    expect(noType.headers?.["access-control-allow-origin"]).toBe("*");
  });

  it("PUT /jobs/{name} decodes the name, stores the job and pokes; a failed poke does not fail the write", async () => {
    const saved = await invoke(fixture("put-job.json"));
    expect(saved.statusCode).toBe(201);
    expect(saved.json).toMatchObject({ name: "nightly backup", version: 2, created: true });
    expect(invokes()).toHaveLength(1);
    lambda.on(InvokeCommand).rejects(new Error("Rate exceeded"));
    const again = await invoke(fixture("put-job.json"));
    expect(again.statusCode).toBe(200);
    const jobs = await invoke(fixture("get-jobs.json"));
    expect(keysAt(jobs.json, "jobs").sort()).toEqual(["nightly backup", "simple_job"]);
  });

  it("POST / sent like `curl -d` gets Bistro's per-subquery answers; a non-JSON body one string", async () => {
    const answer = await invoke(fixture("post-bistro.json"));
    expect(answer.statusCode).toBe(200);
    expect(keysAt(answer.json, "a", "data").sort()).toEqual(["nightly backup", "simple_job"]);
    expect(at(answer.json, "a", "data", "simple_job")).toMatchObject({ owner: "test", level_for_tasks: "level2" });
    expect(at(answer.json, "b")).toEqual({ data: {} });
    const notJson = await handler(variant("post-bistro.json", { body: "not json" }), context);
    expect(notJson.statusCode).toBe(200);
    expect(JSON.parse(notJson.body)).toEqual(expect.stringMatching(/^Invalid JSON body/));
  });

  it("reads repeated query parameters and validates them", async () => {
    const tasks = await invoke(fixture("get-tasks.json"));
    expect(tasks.statusCode).toBe(200);
    expect(tasks.json).toEqual({ tasks: [], nextCursor: null });
    const bad = await invoke(
      variant("get-tasks.json", {
        queryStringParameters: { state: "sleeping" },
        multiValueQueryStringParameters: { state: ["sleeping"] },
      }),
    );
    expect(bad.statusCode).toBe(400);
    expect(at(bad.json, "error", "issues")).toEqual([
      { path: "state", message: expect.any(String) as unknown, value: "sleeping" },
    ]);
  });

  it("answers unknown paths (404), wrong methods (405) and CORS preflights", async () => {
    const unknown = await invoke(variant("get-jobs.json", { path: "/nowhere" }));
    expect(unknown.statusCode).toBe(404);
    expect(at(unknown.json, "error", "code")).toBe("not_found");
    const wrong = await invoke(variant("get-jobs.json", { httpMethod: "DELETE" }));
    expect(wrong.statusCode).toBe(405);
    expect(wrong.headers?.allow).toBe("GET");
    const preflight = await handler(fixture("options-preflight.json"), context);
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers).toMatchObject({
      "access-control-allow-methods": expect.stringContaining("PUT") as unknown,
    });
    // No wildcard: a deployment names the one origin it allows (CORS_ORIGIN).
    expect(preflight.headers?.["access-control-allow-origin"]).toBeUndefined();
  });
});

/** The value at `keys` inside a JSON answer; undefined where a key is absent. */
function at(value: unknown, ...keys: (string | number)[]): unknown {
  let current = value;
  for (const key of keys) {
    current = typeof current === "object" && current !== null ? (current as Record<string, unknown>)[key] : undefined;
  }
  return current;
}

/** The keys of the object at `keys`. */
function keysAt(value: unknown, ...keys: (string | number)[]): string[] {
  const found = at(value, ...keys);
  return typeof found === "object" && found !== null ? Object.keys(found) : [];
}
