// The Sous HTTP API: `makeApi(deps)` gives the route table, a `handle` that
// routes any plain request (for `sous local`'s server and tests), an `invoke` for hosts that
// route and parse bodies themselves (the Lambda's middy router), and the one error mapping.
// Every answer is JSON with CORS headers. docs/api.md describes the routes.
import { getCurrentConfigVersion } from "../store/config-store";
import { answerBistro } from "./bistro";
import {
  deleteJob,
  expectedVersionOf,
  getConfigView,
  getJob,
  listJobs,
  replaceConfig,
  saveJob,
  versionTag,
} from "./config";
import type { ApiDeps } from "./deps";
import { mapError } from "./errors";
import {
  corsHeaders,
  findRoute,
  jsonResponse,
  lowerCaseHeaders,
  QueryParams,
  routeBody,
  type ApiRequest,
  type ApiResponse,
  type ApiRoute,
  type RouteInput,
} from "./http";
import { getLogs } from "./logs";
import { getPushedNodes, listNodes, pushNodes } from "./nodes";
import { jobShards } from "./shards";
import { readCurrentConfig } from "./state";
import { forgiveJobs, forgiveTask, killTask, listRefusedTasks, listTasks } from "./tasks";
import { heartbeatRoute, listWorkersRoute, registerWorkerRoute } from "./workers";

export type { ApiDeps, LogLine, LogLinesPage, LogLinesQuery, ReadLogs } from "./deps";
export type { ApiRequest, ApiResponse, ApiRoute, BodyKind, RouteInput } from "./http";
export {
  bodyTooLarge,
  corsHeaders,
  findRoute,
  lowerCaseHeaders,
  matchPath,
  QueryParams,
  RouteNotFoundError,
  routeBody,
} from "./http";
export { NotConfiguredError, UnavailableError, ValidationError, mapError } from "./errors";
export { s3LogReader } from "./logs";
export { readPushedNodes, writePushedNodes, type PushedNodes } from "../nodes/pushed";
export { histogramCode, decodeHistogramCode } from "./histogram";

export interface Api {
  readonly routes: readonly ApiRoute[];
  /** Routes and answers a plain request; never throws. */
  handle(request: ApiRequest): Promise<ApiResponse>;
  /** Runs a route whose parameters and body were prepared by the host; never throws. */
  invoke(route: ApiRoute, input: RouteInput): Promise<ApiResponse>;
  /** The answer for an error raised outside a route (router, body parser). */
  errorResponse(error: unknown): ApiResponse;
  /** The answer to a CORS preflight (OPTIONS). */
  preflight(): ApiResponse;
}

const param = (input: RouteInput, name: string): string => input.params[name] ?? "";

function routeTable(deps: ApiDeps): ApiRoute[] {
  const ok = (body: unknown, headers?: Record<string, string>) => jsonResponse(200, body, headers);
  return [
    {
      method: "GET",
      path: "/health",
      body: "none",
      run: async () => ok({ ok: true, configVersion: await getCurrentConfigVersion(deps.store), timeMs: deps.clock() }),
    },
    {
      method: "GET",
      path: "/config",
      body: "none",
      run: async () => {
        const view = await getConfigView(deps);
        return ok(view, { etag: versionTag(view.version) });
      },
    },
    {
      method: "PUT",
      path: "/config",
      body: "json",
      run: async (input) => {
        const result = await replaceConfig(deps, input.body, expectedVersionOf(input));
        return ok(result, { etag: versionTag(result.version) });
      },
    },
    { method: "GET", path: "/jobs", body: "none", run: async () => ok(await listJobs(deps)) },
    {
      method: "GET",
      path: "/jobs/{name}",
      body: "none",
      run: async (input) => ok(await getJob(deps, param(input, "name"))),
    },
    {
      method: "PUT",
      path: "/jobs/{name}",
      body: "json",
      run: async (input) => {
        const result = await saveJob(deps, param(input, "name"), input.body, expectedVersionOf(input));
        return jsonResponse(result.created ? 201 : 200, result, { etag: versionTag(result.version) });
      },
    },
    {
      method: "DELETE",
      path: "/jobs/{name}",
      body: "none",
      run: async (input) => ok(await deleteJob(deps, param(input, "name"), expectedVersionOf(input))),
    },
    {
      method: "POST",
      path: "/jobs/{name}/forgive",
      body: "none",
      run: async (input) => {
        const current = await readCurrentConfig(deps);
        return ok(await forgiveJobs(deps, current?.config ?? null, [param(input, "name")]));
      },
    },
    {
      method: "GET",
      path: "/jobs/{name}/shards",
      body: "none",
      run: async (input) => ok(await jobShards(deps, param(input, "name"), input)),
    },
    { method: "GET", path: "/nodes", body: "none", run: async (input) => ok(await listNodes(deps, input)) },
    {
      method: "PUT",
      path: "/nodes/{source}",
      body: "json",
      run: async (input) => {
        const expected = expectedVersionOf(input, "node set version");
        const result = await pushNodes(deps, param(input, "source"), input.body, expected);
        return ok(result, { etag: versionTag(result.version) });
      },
    },
    {
      method: "GET",
      path: "/nodes/{source}",
      body: "none",
      run: async (input) => {
        const result = await getPushedNodes(deps, param(input, "source"));
        return ok(result, { etag: versionTag(result.version) });
      },
    },
    { method: "GET", path: "/tasks", body: "none", run: async (input) => ok(await listTasks(deps, input)) },
    { method: "GET", path: "/tasks/refused", body: "none", run: async () => ok(await listRefusedTasks(deps)) },
    {
      method: "POST",
      path: "/tasks/{job}/{node}/kill",
      body: "none",
      run: async (input) => {
        const current = await readCurrentConfig(deps);
        return jsonResponse(
          202,
          await killTask(deps, current?.config ?? null, param(input, "job"), param(input, "node")),
        );
      },
    },
    {
      method: "POST",
      path: "/tasks/{job}/{node}/forgive",
      body: "none",
      run: async (input) => ok(await forgiveTask(deps, param(input, "job"), param(input, "node"))),
    },
    { method: "GET", path: "/logs", body: "none", run: async (input) => ok(await getLogs(deps, input)) },
    { method: "GET", path: "/workers", body: "none", run: async () => ok(await listWorkersRoute(deps)) },
    {
      method: "POST",
      path: "/workers",
      body: "json",
      run: async (input) => jsonResponse(201, await registerWorkerRoute(deps, input.body, input.caller)),
    },
    {
      method: "POST",
      path: "/workers/{id}/heartbeat",
      body: "json",
      run: async (input) => ok(await heartbeatRoute(deps, param(input, "id"), input.body, input.caller)),
    },
    // Bistro's monitor protocol: always 200, answers per subquery (lib/api/bistro.ts).
    { method: "POST", path: "/", body: "raw", run: async (input) => ok(await answerBistro(deps, input.body)) },
  ];
}

export function makeApi(deps: ApiDeps): Api {
  const cors = corsHeaders(deps.corsOrigin);
  const log =
    deps.log ??
    ((entry: Record<string, unknown>) => {
      console.error(JSON.stringify(entry));
    });
  const withCors = (response: ApiResponse): ApiResponse => ({ ...response, headers: { ...cors, ...response.headers } });
  const errorResponse = (error: unknown): ApiResponse => {
    const mapped = mapError(error);
    if (mapped.internal) {
      log({
        event: "api-internal-error",
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      });
    }
    return withCors(jsonResponse(mapped.status, mapped.body, mapped.headers));
  };
  const routes = routeTable({ ...deps, log });
  const invoke = async (route: ApiRoute, input: RouteInput): Promise<ApiResponse> => {
    try {
      return withCors(await route.run(input));
    } catch (error) {
      return errorResponse(error);
    }
  };
  const preflight = (): ApiResponse => ({ statusCode: 204, headers: { ...cors }, body: undefined });
  return {
    routes,
    invoke,
    errorResponse,
    preflight,
    async handle(request) {
      if (request.method.toUpperCase() === "OPTIONS") return preflight();
      try {
        const headers = lowerCaseHeaders(request.headers);
        const { route, params } = findRoute(routes, request.method, request.path);
        const body = routeBody(route, headers, request.body);
        return await invoke(route, { params, query: new QueryParams(request.query), headers, body });
      } catch (error) {
        return errorResponse(error);
      }
    },
  };
}
