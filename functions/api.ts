// Lambda entry point of the HTTP API (API Gateway REST, v1 proxy events): middy's router over
// lib/api's route table, lib/api's body reading (size and depth limits, JSON on the routes that
// take JSON; Bistro's `POST /` gets the raw body, so a body that is not JSON still gets Bistro's
// one-string answer), CORS preflights, and lib/api's error mapping as the one error handler.
// Thin: builds deps from the environment once per container.
import "./stack-traces"; // first: maps stack traces to the sources, read on first use
import middy, { type MiddlewareObj } from "@middy/core";
import httpRouterHandler, { type Route } from "@middy/http-router";
import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from "aws-lambda";
import {
  findRoute,
  lowerCaseHeaders,
  makeApi,
  matchPath,
  QueryParams,
  RouteNotFoundError,
  routeBody,
  s3LogReader,
  type Api,
  type ApiResponse,
  type ApiRoute,
} from "../lib/api";
import { once } from "../lib/aws/config";
import { makeDocumentClient, makeDynamoDbClient } from "../lib/aws/dynamodb";
import { makeLambdaClient } from "../lib/aws/lambda";
import { makeSqsClient } from "../lib/aws/sqs";
import { lambdaRoundTrigger } from "../lib/round/lambda-trigger";
import { requestRound } from "../lib/round/poke";
import { requireEnv } from "./env";

type Event = APIGatewayProxyEvent;
type Result = APIGatewayProxyResult;

const logger = new Logger({ serviceName: "sous-api" });
// Only the clients this function uses, each made on first use; the SDK's S3 package loads with
// the first log query.
const doc = once(() => makeDocumentClient(makeDynamoDbClient()));
const sqs = once(() => makeSqsClient());
const lambda = once(() => makeLambdaClient());
const s3 = once(async () => (await import("../lib/aws/s3")).makeS3Client());
let api: Api | undefined;
let router: ((event: Event, context: Context) => Promise<Result>) | undefined;

/** The API, built on first use from the environment the stack sets. */
function currentApi(): Api {
  if (api) return api;
  const store = { doc: doc(), tableName: requireEnv("TABLE_NAME") };
  const roundFunction = requireEnv("ROUND_FUNCTION_NAME");
  const bucket = process.env.LOG_BUCKET;
  api = makeApi({
    store,
    sqs: sqs(),
    clock: Date.now,
    instanceName: process.env.INSTANCE_NODE_NAME ?? "instance",
    poke: () => requestRound(store, lambdaRoundTrigger(lambda(), roundFunction)),
    workerQueuePrefix: requireEnv("WORKER_QUEUE_PREFIX"),
    statusQueueUrl: requireEnv("STATUS_QUEUE_URL"),
    ...(bucket ? { readLogs: s3LogReader({ s3, doc: store.doc, tableName: store.tableName, bucket }) } : {}),
    ...(bucket
      ? {
          workerSetup: {
            tableName: store.tableName,
            logBucket: bucket,
            ...(process.env.AWS_REGION ? { region: process.env.AWS_REGION } : {}),
          },
        }
      : {}),
    ...(process.env.CORS_ORIGIN ? { corsOrigin: process.env.CORS_ORIGIN } : {}),
    // Worker queues get owner-only and TLS-only policies (docs/security.md).
    workerQueuePolicies: true,
    log: (entry) => {
      logger.error("api", entry);
    },
  });
  return api;
}

function toResult(response: ApiResponse): Result {
  return {
    statusCode: response.statusCode,
    headers: response.headers,
    body: response.body === undefined ? "" : JSON.stringify(response.body),
  };
}

function rawBody(event: Event): string | undefined {
  if (event.body === null) return undefined;
  return event.isBase64Encoded ? Buffer.from(event.body, "base64").toString("utf8") : event.body;
}

/** IAM auth's caller (aws:userid: `AROA…:session` or `AIDA…`); absent without IAM auth. */
function callerOf(event: Event): { caller?: string } {
  const identity = (event.requestContext as Partial<Event["requestContext"]> | undefined)?.identity;
  const caller = identity?.caller ?? identity?.user;
  return caller ? { caller } : {};
}

function routeHandler(instance: Api, route: ApiRoute) {
  return middy<Event, Result>().handler(async (event) => {
    const query = event.multiValueQueryStringParameters ?? event.queryStringParameters;
    const headers = lowerCaseHeaders(event.headers);
    const input = {
      // REST events carry the percent-encoded path; lib/api decodes parameters the same way everywhere.
      params: matchPath(route.path, event.path) ?? {},
      query: new QueryParams(query),
      headers,
      // Limits and JSON parsing as in every host; a refusal reaches apiErrors (lib/api's mapping).
      body: routeBody(route, headers, rawBody(event)),
      ...callerOf(event),
    };
    return toResult(await instance.invoke(route, input));
  });
}

function buildRouter(instance: Api) {
  const routes: Route<Event, Result>[] = instance.routes.map((route) => ({
    method: route.method,
    path: route.path,
    handler: routeHandler(instance, route),
  }));
  routes.push({ method: "OPTIONS", path: "/{proxy+}", handler: () => Promise.resolve(toResult(instance.preflight())) });
  return httpRouterHandler({
    routes,
    notFoundResponse: ({ method, path }) => {
      findRoute(instance.routes, method, path); // throws 404, or 405 naming the allowed methods
      throw new RouteNotFoundError(`No route for ${method} ${path}`);
    },
  });
}

/** Every error outside a route's own handling (router, body parser, setup) becomes lib/api's answer. */
const apiErrors: MiddlewareObj<Event, Result> = {
  onError: (request) => {
    try {
      request.response = toResult(currentApi().errorResponse(request.error));
    } catch (setupError) {
      logger.error("api setup failed", { error: String(setupError), cause: String(request.error) });
      request.response = {
        statusCode: 500,
        headers: { "content-type": "application/json; charset=utf-8" },
        body: JSON.stringify({ error: { status: 500, code: "internal", message: "The API is misconfigured." } }),
      };
    }
  },
};

export async function apiHandler(event: Event, context: Context): Promise<Result> {
  router ??= buildRouter(currentApi());
  return router(event, context);
}

export const handler = middy(apiHandler).use(injectLambdaContext(logger)).use(apiErrors);
