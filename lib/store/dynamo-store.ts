// The DynamoDB adapter of the store ports (lib/store/ports.ts): each port method is the store
// module's function on one table. The modules already turn condition failures into domain
// errors; this adapter is where any left over is mapped, so no SDK exception crosses a port.
import { ConditionalCheckFailedException, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { bumpChangeSequence, readChangeEntries, readChangeSequence } from "./change-sequence";
import { getConfig, getCurrentConfigVersion, listConfigVersions, putConfig } from "./config-store";
import type { StoreContext } from "./context";
import { readCounters, repairCounters } from "./counters";
import { ConflictError } from "./errors";
import {
  acquireLease,
  clearRoundWanted,
  markRoundWanted,
  recordWake,
  releaseLease,
  releaseLeaseUnlessWanted,
} from "./lease";
import { readNodeSet, readNodeSetBody, readNodeSetHead, writeNodeSet } from "./node-sets";
import type { StorePorts } from "./ports";
import { readSchedulerState, writeSchedulerState } from "./scheduler-state";
import {
  applyFinishes,
  commitStarts,
  getTasks,
  listTaskPage,
  readJobsWithTasks,
  readJobTasks,
  readTasks,
} from "./tasks";
import { getWorker, listWorkers, markWorkerLost, recordHeartbeat, registerWorker } from "./workers";

/**
 * A task write the commit protocol could not settle (conflicts past its retries, a cancellation
 * it does not read): nothing of that write applied, which is what a lost race is.
 */
function unsettledTaskWrite(error: unknown): never {
  if (error instanceof TransactionCanceledException || error instanceof ConditionalCheckFailedException) {
    throw new ConflictError(`A task write was cancelled and nothing of it applied: ${error.message}`, {
      cause: error,
    });
  }
  throw error;
}

export function dynamoStorePorts(ctx: StoreContext): StorePorts {
  return {
    tasks: {
      readJobsWithTasks: () => readJobsWithTasks(ctx),
      readJobTasks: (job) => readJobTasks(ctx, job),
      readTasks: (jobs, parallel) => readTasks(ctx, jobs, parallel),
      getTasks: (wanted) => getTasks(ctx, wanted),
      commitStarts: (lease, requested, nowMs) => commitStarts(ctx, lease, requested, nowMs).catch(unsettledTaskWrite),
      applyFinishes: (finishes, lease) => applyFinishes(ctx, finishes, lease).catch(unsettledTaskWrite),
      listTaskPage: (query) => listTaskPage(ctx, query),
      readCounters: () => readCounters(ctx),
      repairCounters: (lease, drift) => repairCounters(ctx, lease, drift),
      readChanges: (after, through) => readChangeEntries(ctx, after, through),
    },
    lease: {
      acquire: (owner, nowMs, ttlMs, previous) => acquireLease(ctx, owner, nowMs, ttlMs, previous),
      markRoundWanted: () => markRoundWanted(ctx),
      clearRoundWanted: (lease) => clearRoundWanted(ctx, lease),
      releaseUnlessWanted: (lease) => releaseLeaseUnlessWanted(ctx, lease),
      release: (lease) => releaseLease(ctx, lease),
      recordWake: (lease, wakeAtMs) => recordWake(ctx, lease, wakeAtMs),
    },
    config: {
      currentVersion: () => getCurrentConfigVersion(ctx),
      listVersions: () => listConfigVersions(ctx),
      get: (version) => getConfig(ctx, version),
      put: (document, expectedVersion, nowMs) => putConfig(ctx, document, expectedVersion, nowMs),
    },
    workers: {
      register: (record, staleBeforeMs) => registerWorker(ctx, record, staleBeforeMs),
      heartbeat: (id, instanceId, secretHash, nowMs, running) =>
        recordHeartbeat(ctx, id, instanceId, secretHash, nowMs, running),
      markLost: (id, instanceId, nowMs) => markWorkerLost(ctx, id, instanceId, nowMs),
      get: (id) => getWorker(ctx, id),
      list: () => listWorkers(ctx),
    },
    nodeSets: {
      readHead: (name) => readNodeSetHead(ctx, name),
      write: (name, nodes, nowMs, expectedVersion) => writeNodeSet(ctx, name, nodes, nowMs, expectedVersion),
      read: (name) => readNodeSet(ctx, name),
      readBody: (name) => readNodeSetBody(ctx, name),
    },
    schedulerState: {
      read: () => readSchedulerState(ctx),
      write: (lease, state) => writeSchedulerState(ctx, lease, state),
      readChangeSequence: () => readChangeSequence(ctx),
      bumpChangeSequence: () => bumpChangeSequence(ctx),
    },
  };
}
