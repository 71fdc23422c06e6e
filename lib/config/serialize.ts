// The model back to Bistro's JSON: `serializeJob` is Job::toDynamic (the `jobs` REST handler's
// output), `serializeSettings`/`serializeConfig` write a document
// that parses back to the same model. Inherited values are always written out, so a reader sees
// a job's true settings without unravelling defaults.
import type {
  Config,
  ConfigIssue,
  Job,
  JobFilter,
  KillRequest,
  Settings,
  TaskSubprocessOptions,
} from "../model/config";
import { serializeBackoff } from "./backoff";
import { putEntry } from "./issues";
import { JOB_PREFIX } from "./job";
import { SETTINGS_KEY } from "./settings";

type Json = Record<string, unknown>;

/** Seconds, or false for "never" (Bistro's killOrphanTasksAfterToDynamic). */
function serializeKillOrphanTasksAfter(seconds: number | null): number | false {
  return seconds ?? false;
}

export function serializeTaskSubprocess(options: TaskSubprocessOptions): Json {
  return {
    poll_ms: options.pollMs,
    max_log_lines_per_poll_interval: options.maxLogLinesPerPollInterval,
    parent_death_signal: options.parentDeathSignal,
    process_group_leader: options.processGroupLeader,
    use_canary_pipe: options.useCanaryPipe,
    cgroups: {
      root: options.cgroups.root,
      slice: options.cgroups.slice,
      subsystems: [...options.cgroups.subsystems],
      kill_without_freezer: options.cgroups.killWithoutFreezer,
    },
  };
}

export function serializeKillRequest(request: KillRequest): Json {
  return { method: request.method, kill_wait_ms: request.killWaitMs };
}

/** Only the non-trivial parts, as JobFilters::toDynamic. */
export function serializeFilter(filter: JobFilter): Json {
  const json: Json = {};
  if (filter.whitelist.length > 0) json.whitelist = [...filter.whitelist];
  if (filter.whitelistRegex !== null) json.whitelist_regex = filter.whitelistRegex;
  if (filter.blacklist.length > 0) json.blacklist = [...filter.blacklist];
  if (filter.blacklistRegex !== null) json.blacklist_regex = filter.blacklistRegex;
  if (filter.tagWhitelist.length > 0) json.tag_whitelist = [...filter.tagWhitelist];
  if (filter.fractionOfNodes < 1) json.fraction_of_nodes = filter.fractionOfNodes;
  return json;
}

function serializeIssue(issue: ConfigIssue): Json {
  return issue.value === undefined
    ? { path: issue.path, message: issue.message }
    : { path: issue.path, message: issue.message, value: issue.value };
}

/** A job as Bistro's `jobs` handler shows it (without its name). */
export function serializeJob(job: Job): Json {
  const json: Json = {
    enabled: job.enabled,
    owner: job.owner,
    level_for_tasks: job.levelForTasks,
    priority: job.priority,
    config: job.config,
    backoff: serializeBackoff(job.backoff),
    kill_orphan_tasks_after_sec: serializeKillOrphanTasksAfter(job.killOrphanTasksAfterSec),
    task_subprocess: serializeTaskSubprocess(job.taskSubprocess),
    kill_subprocess: serializeKillRequest(job.killSubprocess),
  };
  if (Object.keys(job.resources).length > 0) json.resources = { ...job.resources };
  const filters = Object.entries(job.filters).map(([level, filter]) => [level, serializeFilter(filter)] as const);
  const nonEmpty = filters.filter(([, filter]) => Object.keys(filter).length > 0);
  if (nonEmpty.length > 0) json.filters = Object.fromEntries(nonEmpty);
  if (job.levelForHostPlacement !== null) json.level_for_host_placement = job.levelForHostPlacement;
  if (job.hostPlacement !== null) json.host_placement = job.hostPlacement;
  if (job.attemptDurationSec !== null) json.attempt_duration_seconds = job.attemptDurationSec;
  if (job.dependsOn.length > 0) json.depends_on = [...job.dependsOn];
  if (job.createTime !== null) json.create_time = job.createTime;
  if (job.modifyTime !== null) json.modify_time = job.modifyTime;
  if (job.command.length > 0) json.command = [...job.command];
  if (job.container) {
    const { taskDefinition, cpu, memoryMiB, role } = job.container;
    json.container = {
      task_definition: taskDefinition,
      ...(cpu !== undefined ? { cpu } : {}),
      ...(memoryMiB !== undefined ? { memory: memoryMiB } : {}),
      ...(role !== undefined ? { role } : {}),
    };
  }
  if (job.versionId !== null) json.version_id = job.versionId;
  if (job.errors.length > 0) json.errors = job.errors.map(serializeIssue);
  return json;
}

/** `bistro_settings` with every key written out (defaults included). */
export function serializeSettings(settings: Settings): Json {
  return {
    enabled: settings.enabled,
    working_wait: settings.workingWaitSec,
    idle_wait: settings.idleWaitSec,
    scheduler: settings.scheduler,
    remote_worker_selector: settings.remoteWorkerSelector,
    backoff: serializeBackoff(settings.backoff),
    nodes: {
      levels: [...settings.levels],
      node_sources: settings.nodeSources.map((spec) => ({ source: spec.source, prefs: spec.prefs })),
      node_order: settings.nodeOrder,
    },
    resources: Object.fromEntries(
      Object.entries(settings.resources).map(([level, specs]) => [
        level,
        Object.fromEntries(
          Object.entries(specs).map(([name, spec]) => [
            name,
            { limit: spec.limit, default: spec.default, weight: spec.weight },
          ]),
        ),
      ]),
    ),
    level_for_tasks: settings.levelForTasks,
    kill_orphan_tasks_after_sec: serializeKillOrphanTasksAfter(settings.killOrphanTasksAfterSec),
    task_subprocess: serializeTaskSubprocess(settings.taskSubprocess),
    kill_subprocess: serializeKillRequest(settings.killSubprocess),
    worker_resources_override: Object.fromEntries(
      Object.entries(settings.workerResourcesOverride).map(([worker, amounts]) => [worker, { ...amounts }]),
    ),
    physical_resources: Object.fromEntries(
      Object.entries(settings.physicalResources).map(([type, spec]) => [
        type,
        {
          logical_resource: spec.logicalResource,
          multiply_logical_by: spec.multiplyLogicalBy,
          physical_reserve_amount: spec.physicalReserveAmount,
          enforcement: spec.enforcement,
        },
      ]),
    ),
    CAUTION_exit_initial_wait_before_timestamp: settings.exitInitialWaitBeforeTimestamp,
  };
}

/** A whole config document: parseConfig(serializeConfig(c)) gives c back (without its warnings). */
export function serializeConfig(config: Config): Json {
  const json: Json = {};
  putEntry<unknown>(json, SETTINGS_KEY, serializeSettings(config.settings));
  for (const [name, job] of Object.entries(config.jobs))
    putEntry<unknown>(json, `${JOB_PREFIX}${name}`, serializeJob(job));
  return json;
}
