// What the API is built from ("handler factories taking a deps object"): the
// store, SQS, the clock, how to ask for a round, and the optional pieces a deployment may lack
// (task logs, extra node sources). Hosts build these; handlers never reach for globals.
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { LogLineRow, LogPage, LogQuery } from "../logs/reader";
import type { NodeSourceRegistry } from "../nodes";
import type { WorkerTimings } from "../scheduler/worker-health";
import type { StoreContext } from "../store/context";
import type { WorkerSetup } from "../worker/control-plane";

/** Bistro's `task_logs` query and answer, as lib/logs defines them. */
export type LogLinesQuery = LogQuery;
/** `[job, node, time in seconds, line, line id as a decimal string]`. */
export type LogLine = LogLineRow;
export type LogLinesPage = LogPage;

/** Reads one page of task logs; throws ValidationError for a query Bistro would refuse. */
export type ReadLogs = (query: LogLinesQuery) => Promise<LogLinesPage>;

export interface ApiDeps {
  store: StoreContext;
  sqs: SQSClient;
  /** Milliseconds since the epoch. */
  clock: () => number;
  /** Name of the instance node (Bistro's --instance_node_name). */
  instanceName: string;
  /** Asks for a scheduling round soon (config changed, job submitted, worker registered...). */
  poke: () => Promise<void>;
  /** Prefix of per-worker queue names (`POST /workers` creates the worker's queue). */
  workerQueuePrefix: string;
  /** Where workers send task ends; told to them at registration. */
  statusQueueUrl: string;
  /** Told to registering workers: where task output goes (and, on emulators, their endpoints). */
  workerSetup?: WorkerSetup;
  /** Worker health timings; default Bistro's. */
  workerTimings?: WorkerTimings;
  /** Task logs; without it `GET /logs` answers 501 and `task_logs` an error. */
  readLogs?: ReadLogs;
  /** Node sources for `GET /nodes` and the Bistro node handlers; default the built-in ones. */
  nodeSources?: NodeSourceRegistry;
  /** Give each worker queue an owner-only, TLS-only policy at registration (AWS). Default false. */
  workerQueuePolicies?: boolean;
  /** The one browser origin CORS allows (a UI served elsewhere); default none (never `*`). */
  corsOrigin?: string;
  /** Structured log of things callers are not told (internal errors, failed pokes). */
  log?: (entry: Record<string, unknown>) => void;
}

/** Pokes; a failure is logged, not raised: the change is stored and the scheduled round finds it. */
export async function pokeQuietly(deps: ApiDeps, why: string): Promise<void> {
  try {
    await deps.poke();
  } catch (error) {
    deps.log?.({ event: "poke-failed", why, error: error instanceof Error ? error.message : String(error) });
  }
}
