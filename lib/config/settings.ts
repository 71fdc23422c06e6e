// `bistro_settings` (Config.cpp): every key with Bistro's default, plus the
// checks Sous adds (level names, negative amounts, duplicate levels or resources). Any error here
// rejects the whole config, so every error is collected before giving up.
import { INSTANCE_LEVEL, WORKER_LEVEL } from "../model/config";
import type {
  NodeSourceSpec,
  PhysicalResourceSpec,
  ResourceAmounts,
  ResourceSpec,
  Settings,
  ConfigIssue,
} from "../model/config";
import { parseBackoff } from "./backoff";
import {
  KILL_REQUEST_HINT,
  levelTable,
  readKillOrphanTasksAfter,
  readKillRequest,
  readLevelName,
  readTaskSubprocess,
  truncateToMs,
  unknownLevelMessage,
  type LevelTable,
} from "./common";
import {
  DEFAULT_IDLE_WAIT_SEC,
  DEFAULT_WORKING_WAIT_SEC,
  defaultBackoff,
  defaultKillRequest,
  defaultTaskSubprocess,
  ENFORCEMENTS,
  NODE_ORDERS,
  PHYSICAL_RESOURCES,
  SCHEDULER_POLICIES,
  SUPPORTED_ENFORCEMENTS,
  WORKER_SELECTORS,
  type PhysicalResourceName,
} from "./defaults";
import { childPath, describeValue, IssueSink, oneOf, putEntry } from "./issues";
import { BOOL, check, enumRule, INT, NON_NEGATIVE_INT, SECONDS, NUMBER, OBJECT, ObjectReader, STRING } from "./read";

export const SETTINGS_KEY = "bistro_settings";

export type SettingsParseResult =
  | { ok: true; settings: Settings; warnings: ConfigIssue[] }
  | { ok: false; errors: ConfigIssue[]; warnings: ConfigIssue[] };

const SCHEDULER = enumRule(SCHEDULER_POLICIES);
const WORKER_SELECTOR = enumRule(WORKER_SELECTORS);
const NODE_ORDER = enumRule(NODE_ORDERS);
const ENFORCEMENT = enumRule(ENFORCEMENTS);

const SETTINGS_HINTS: Readonly<Record<string, string>> = {
  kill_request: KILL_REQUEST_HINT,
  worker_resources_overrides: 'not a Bistro key (the docs\' plural is wrong); use "worker_resources_override"; ignored',
  node_order: 'Bistro reads node_order inside "nodes" ("nodes": {"node_order": ...}); ignored here',
};

/** Parses `bistro_settings`; `path` names it in issues. */
export function parseSettings(json: unknown, path: string = SETTINGS_KEY): SettingsParseResult {
  const sink = new IssueSink();
  const reader = ObjectReader.of(sink, json, path);
  if (!reader) return { ok: false, errors: sink.errors, warnings: sink.warnings };
  const settings = readSettings(reader);
  reader.reportUnknownKeys(SETTINGS_HINTS);
  if (sink.errors.length > 0) return { ok: false, errors: sink.errors, warnings: sink.warnings };
  return { ok: true, settings, warnings: sink.warnings };
}

function readSettings(reader: ObjectReader): Settings {
  const { sink } = reader;
  const enabled = reader.optional("enabled", BOOL, false);
  const workingWaitSec = truncateToMs(reader.optional("working_wait", SECONDS, DEFAULT_WORKING_WAIT_SEC));
  const idleWaitSec = truncateToMs(reader.optional("idle_wait", SECONDS, DEFAULT_IDLE_WAIT_SEC));
  const scheduler = reader.optional("scheduler", SCHEDULER, "roundrobin");
  const remoteWorkerSelector = reader.optional("remote_worker_selector", WORKER_SELECTOR, "roundrobin");
  const backoff = reader.has("backoff")
    ? (parseBackoff(sink, reader.take("backoff"), reader.at("backoff")) ?? defaultBackoff())
    : defaultBackoff();

  const nodes = readNodes(reader);
  const levels = levelTable(nodes.levels, nodes.levelsTrusted);

  const killOrphanTasksAfterSec = readKillOrphanTasksAfter(reader, null);
  const taskSubprocess = readTaskSubprocess(reader, defaultTaskSubprocess());
  const killSubprocess = readKillRequest(reader, defaultKillRequest());
  const exitInitialWaitBeforeTimestamp = reader.optional("CAUTION_exit_initial_wait_before_timestamp", INT, 0);

  // Bistro's default is the bottom configured level (the instance when there are none).
  let levelForTasks = nodes.levels[nodes.levels.length - 1] ?? INSTANCE_LEVEL;
  if (reader.has("level_for_tasks")) {
    const path = reader.at("level_for_tasks");
    levelForTasks = readLevelName(sink, reader.take("level_for_tasks"), path, levels) ?? levelForTasks;
  }

  const resources = readResources(reader, levels);
  const workerResources = resources[WORKER_LEVEL] ?? {};
  const resourceLevels = levelOfEachResource(resources);

  return {
    enabled,
    workingWaitSec,
    idleWaitSec,
    scheduler,
    remoteWorkerSelector,
    backoff,
    levels: nodes.levels,
    nodeSources: nodes.nodeSources,
    nodeOrder: nodes.nodeOrder,
    resources,
    levelForTasks,
    killOrphanTasksAfterSec,
    taskSubprocess,
    killSubprocess,
    workerResourcesOverride: readWorkerResourcesOverride(reader, workerResources, resourceLevels),
    physicalResources: readPhysicalResources(reader, workerResources),
    exitInitialWaitBeforeTimestamp,
  };
}

interface NodesSettings {
  levels: string[];
  levelsTrusted: boolean;
  nodeSources: NodeSourceSpec[];
  nodeOrder: Settings["nodeOrder"];
}

function readNodes(settings: ObjectReader): NodesSettings {
  const result: NodesSettings = { levels: [], levelsTrusted: false, nodeSources: [], nodeOrder: "random" };
  if (!settings.has("nodes")) {
    settings.missing("nodes", 'an object with "levels" and "node_sources"');
    return result;
  }
  const nodes = settings.object("nodes");
  if (!nodes) return result;
  if (nodes.has("levels")) {
    const levels = readLevels(nodes.sink, nodes.take("levels"), nodes.at("levels"));
    result.levels = levels.names;
    result.levelsTrusted = levels.valid;
  } else {
    nodes.missing("levels", "an array of level names, top first");
  }
  const errorsBefore = nodes.sink.errors.length;
  if (nodes.has("node_sources")) result.nodeSources = readNodeSources(nodes.sink, nodes.take("node_sources"), nodes);
  readLegacyNodeSource(nodes);
  if (result.nodeSources.length === 0 && nodes.sink.errors.length === errorsBefore) {
    nodes.sink.warn(nodes.at("node_sources"), "no node sources: only the instance node exists");
  }
  result.nodeOrder = nodes.optional("node_order", NODE_ORDER, "random");
  nodes.reportUnknownKeys();
  return result;
}

function readLevels(sink: IssueSink, value: unknown, path: string): { names: string[]; valid: boolean } {
  if (!Array.isArray(value)) {
    sink.error(path, `expected an array of level names, top first, found ${describeValue(value)}`, value);
    return { names: [], valid: false };
  }
  const before = sink.errors.length;
  const names: string[] = [];
  const seen = new Set<string>();
  (value as unknown[]).forEach((item, index) => {
    const itemPath = childPath(path, index);
    const name = check(sink, item, itemPath, STRING);
    if (name === undefined) return;
    if (name === "") {
      sink.error(itemPath, "level names must not be empty", name);
    } else if (name === INSTANCE_LEVEL || name === WORKER_LEVEL) {
      sink.error(
        itemPath,
        `level name ${JSON.stringify(name)} is reserved: Bistro adds "instance" and "worker" itself`,
        name,
      );
    } else if (seen.has(name)) {
      sink.error(itemPath, `duplicate level name ${JSON.stringify(name)}`, name);
    } else {
      seen.add(name);
      names.push(name);
    }
  });
  return { names, valid: sink.errors.length === before };
}

function readNodeSources(sink: IssueSink, value: unknown, nodes: ObjectReader): NodeSourceSpec[] {
  const path = nodes.at("node_sources");
  if (!Array.isArray(value)) {
    sink.error(path, `expected an array of {"source": ..., "prefs": {...}}, found ${describeValue(value)}`, value);
    return [];
  }
  const sources: NodeSourceSpec[] = [];
  (value as unknown[]).forEach((item, index) => {
    const entry = ObjectReader.of(sink, item, childPath(path, index));
    if (!entry) return;
    const source = entry.required("source", STRING, "");
    const prefs = entry.optional("prefs", OBJECT, {});
    entry.reportUnknownKeys();
    sources.push({ source, prefs });
  });
  return sources;
}

/**
 * The single-source form Bistro removed in 2016 (its getting-started doc still shows it): Bistro
 * ignores it, and so does Sous, with a warning saying where the source must go.
 */
function readLegacyNodeSource(nodes: ObjectReader): void {
  const hasSource = nodes.has("node_source");
  const hasPrefs = nodes.has("node_source_prefs");
  if (!hasSource && !hasPrefs) return;
  const legacyPath = nodes.at(hasSource ? "node_source" : "node_source_prefs");
  const source = hasSource ? nodes.take("node_source") : undefined;
  if (hasPrefs) nodes.take("node_source_prefs");
  const named = typeof source === "string" ? JSON.stringify(source) : "...";
  nodes.sink.warn(
    legacyPath,
    'ignored, as Bistro ignores it: the single-source form "node_source" + "node_source_prefs" was removed in ' +
      `2016; list the source in "node_sources": [{"source": ${named}, "prefs": {...}}]`,
  );
}

function readResources(settings: ObjectReader, levels: LevelTable): Record<string, Record<string, ResourceSpec>> {
  const resources: Record<string, Record<string, ResourceSpec>> = {};
  if (!settings.has("resources")) {
    settings.missing("resources", "an object of level -> resource -> {limit, default} (may be {})");
    return resources;
  }
  const byLevel = settings.object("resources");
  if (!byLevel) return resources;
  const { sink } = settings;
  const definedAt = new Map<string, string>();
  for (const [level, value] of Object.entries(byLevel.value)) {
    byLevel.has(level);
    const levelPath = byLevel.at(level);
    if (levels.trusted && !levels.known.has(level)) {
      sink.error(levelPath, unknownLevelMessage(level, levels), level);
      continue;
    }
    const specs = ObjectReader.of(sink, value, levelPath);
    if (!specs) continue;
    const levelResources: Record<string, ResourceSpec> = {};
    for (const [name, specValue] of Object.entries(specs.value)) {
      specs.has(name);
      const specPath = specs.at(name);
      const earlier = definedAt.get(name);
      if (earlier !== undefined) {
        sink.error(
          specPath,
          `resource ${JSON.stringify(name)} is already defined at level ${JSON.stringify(earlier)}; ` +
            "resource names are shared by all levels",
        );
        continue;
      }
      const spec = ObjectReader.of(sink, specValue, specPath);
      if (!spec) continue;
      definedAt.set(name, level);
      const resource: ResourceSpec = {
        limit: spec.required("limit", NON_NEGATIVE_INT, 0),
        default: spec.required("default", NON_NEGATIVE_INT, 0),
        weight: spec.optional("weight", NON_NEGATIVE_INT, 0),
      };
      spec.reportUnknownKeys();
      putEntry(levelResources, name, resource);
    }
    putEntry(resources, level, levelResources);
  }
  return resources;
}

function levelOfEachResource(resources: Record<string, Record<string, ResourceSpec>>): Map<string, string> {
  const levelOf = new Map<string, string>();
  for (const [level, specs] of Object.entries(resources))
    for (const name of Object.keys(specs)) levelOf.set(name, level);
  return levelOf;
}

function readWorkerResourcesOverride(
  settings: ObjectReader,
  workerResources: Record<string, ResourceSpec>,
  resourceLevels: ReadonlyMap<string, string>,
): Record<string, ResourceAmounts> {
  const overrides: Record<string, ResourceAmounts> = {};
  const byWorker = settings.object("worker_resources_override");
  if (!byWorker) return overrides;
  const { sink } = settings;
  const workerNames = Object.keys(workerResources);
  for (const [worker, value] of Object.entries(byWorker.value)) {
    byWorker.has(worker);
    const amounts = ObjectReader.of(sink, value, byWorker.at(worker));
    if (!amounts) continue;
    const workerOverrides: ResourceAmounts = {};
    for (const [name, amountValue] of Object.entries(amounts.value)) {
      amounts.has(name);
      const path = amounts.at(name);
      const level = resourceLevels.get(name);
      if (level === undefined) {
        const known =
          workerNames.length > 0 ? `worker resources are ${oneOf(workerNames)}` : "no worker resources are defined";
        sink.error(path, `overriding unknown resource ${JSON.stringify(name)}; ${known}`, name);
        continue;
      }
      if (level !== WORKER_LEVEL) {
        sink.error(
          path,
          `overriding resource for wrong level: ${JSON.stringify(name)} belongs to level ${JSON.stringify(level)}; ` +
            'only "worker" resources can be overridden',
          name,
        );
        continue;
      }
      const amount = check(sink, amountValue, path, NON_NEGATIVE_INT);
      if (amount !== undefined) putEntry(workerOverrides, name, amount);
    }
    putEntry(overrides, worker, workerOverrides);
  }
  return overrides;
}

function readPhysicalResources(
  settings: ObjectReader,
  workerResources: Record<string, ResourceSpec>,
): Record<string, PhysicalResourceSpec> {
  const physical: Record<string, PhysicalResourceSpec> = {};
  const byType = settings.object("physical_resources");
  if (!byType) return physical;
  const { sink } = settings;
  const usedLogical = new Map<string, string>();
  for (const [type, value] of Object.entries(byType.value)) {
    byType.has(type);
    const path = byType.at(type);
    if (!(PHYSICAL_RESOURCES as readonly string[]).includes(type)) {
      sink.error(
        path,
        `unknown physical resource type ${JSON.stringify(type)}; expected ${oneOf(PHYSICAL_RESOURCES)}`,
        type,
      );
      continue;
    }
    const entry = ObjectReader.of(sink, value, path);
    if (!entry) continue;
    const logicalResource = entry.required("logical_resource", STRING, "");
    if (entry.has("logical_resource") && typeof entry.take("logical_resource") === "string") {
      if (!Object.hasOwn(workerResources, logicalResource)) {
        sink.error(
          entry.at("logical_resource"),
          `physical resource maps to unknown resource ${JSON.stringify(logicalResource)}; it must be a "worker" resource`,
          logicalResource,
        );
      } else if (usedLogical.has(logicalResource)) {
        sink.error(
          entry.at("logical_resource"),
          `logical resource ${JSON.stringify(logicalResource)} is already used by physical_resources.${usedLogical.get(logicalResource) ?? ""}`,
          logicalResource,
        );
      } else {
        usedLogical.set(logicalResource, type);
      }
    }
    let multiplyLogicalBy = entry.optional("multiply_logical_by", NUMBER, 1);
    if (Math.abs(multiplyLogicalBy) < 1e-12) {
      sink.error(
        entry.at("multiply_logical_by"),
        "must not be 0 (too close to 0 for machine precision)",
        multiplyLogicalBy,
      );
      multiplyLogicalBy = 1;
    }
    const physicalReserveAmount = entry.optional("physical_reserve_amount", NUMBER, 0);
    let enforcement = entry.optional("enforcement", ENFORCEMENT, "none");
    const supported = SUPPORTED_ENFORCEMENTS[type as PhysicalResourceName];
    if (!supported.includes(enforcement)) {
      sink.error(
        entry.at("enforcement"),
        `${type} does not support enforcement ${JSON.stringify(enforcement)}; supported: ${oneOf(supported)}`,
        enforcement,
      );
      enforcement = "none";
    }
    entry.reportUnknownKeys();
    putEntry(physical, type, { logicalResource, multiplyLogicalBy, physicalReserveAmount, enforcement });
  }
  return physical;
}
