// Nodes through the API: the current tree, paged (`GET /nodes`), and nodes pushed by callers
// for one source (`PUT /nodes/{source}`, read back with `GET /nodes/{source}`), checked and
// stored as a versioned node set that the `pushed` node source serves to rounds.
import { z } from "zod";
import { capIssues, isPlainObject } from "../config/issues";
import { MAX_NODES, nodeNameProblem, overLimit, tagsProblem } from "../config/limits";
import { INSTANCE_LEVEL } from "../model/config";
import type { ConfigIssue } from "../model/config";
import type { NodeSpec, NodeTree } from "../model/tree";
import { levelIndex } from "../nodes";
import { MAX_PUSHED_SOURCE_NAME, readPushedNodes, writePushedNodes } from "../nodes/pushed";
import { NotFoundError } from "../store/errors";
import { pokeQuietly, type ApiDeps } from "./deps";
import { validate, ValidationError } from "./errors";
import { decodeCursor, encodeCursor, type RouteInput } from "./http";
import { loadTree, readCurrentConfig, requireCurrentConfig } from "./state";
import { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT } from "./tasks";

function nodeView(tree: NodeTree, node: number) {
  const parent = tree.parentOf[node] ?? -1;
  return {
    name: tree.names.at(node),
    level: tree.levels[tree.levelOf[node] ?? 0] ?? INSTANCE_LEVEL,
    parent: parent >= 0 ? tree.names.at(parent) : null,
    enabled: tree.enabled[node] !== 0,
    tags: [...(tree.tags[node] ?? [])],
  };
}

const isOffsetCursor = (value: unknown): value is { offset: number } =>
  typeof value === "object" &&
  value !== null &&
  Number.isSafeInteger((value as { offset?: unknown }).offset) &&
  (value as { offset: number }).offset >= 0;

/** `GET /nodes?level&cursor&limit`: nodes in source order (one level's, or all levels'). */
export async function listNodes(deps: ApiDeps, input: RouteInput) {
  const { config } = await requireCurrentConfig(deps);
  const tree = await loadTree(deps, config);
  const level = input.query.get("level");
  const limit = input.query.int("limit", { min: 1, max: MAX_PAGE_LIMIT }) ?? DEFAULT_PAGE_LIMIT;
  const cursor = input.query.get("cursor");
  const offset = cursor ? decodeCursor(cursor, isOffsetCursor).offset : 0;
  let order: ArrayLike<number> | undefined;
  if (level !== undefined && level !== "") {
    const index = tree.levels.indexOf(level);
    if (index < 0) {
      throw new ValidationError(`Unknown level ${level}; levels are ${tree.levels.join(", ")}`, [
        { path: "level", message: "unknown level", value: level },
      ]);
    }
    order = tree.byLevel[index] ?? [];
  }
  const total = order ? order.length : tree.size;
  const end = Math.min(total, offset + limit);
  const nodes = [];
  for (let i = offset; i < end; i++) nodes.push(nodeView(tree, order ? (order[i] ?? 0) : i));
  return { levels: tree.levels, nodes, nextCursor: end < total ? encodeCursor({ offset: end }) : null };
}

const pushedNodeSchema = z.strictObject({
  name: z.string().min(1),
  level: z.string().min(1),
  parent: z.string().min(1),
  enabled: z.boolean().optional(),
  tags: z.array(z.string()).optional(),
});
const pushSchema = z.strictObject({ nodes: z.array(pushedNodeSchema) });

/**
 * Checks a push as far as it can alone: names valid and not the instance's, levels configured
 * (when a config is stored), and a parent pushed alongside listed before its child, one level up.
 * A name may repeat under different parents of one level (Bistro's replicas, as the config's
 * sources allow), but not on two levels nor twice under one parent. Parents from other sources
 * are checked when the tree is built.
 */
function checkPushedNodes(
  nodes: readonly z.infer<typeof pushedNodeSchema>[],
  levels: readonly string[] | undefined,
  instanceName: string,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  /** A name's first position (its first copy, for a replica). */
  const position = new Map<string, number>();
  const pairs = new Set<string>();
  for (const [i, node] of nodes.entries()) {
    const nameProblem = nodeNameProblem(node.name);
    if (nameProblem) issues.push({ path: `nodes.${i}.name`, message: nameProblem });
    const tagProblem = node.tags === undefined ? undefined : tagsProblem(node.tags);
    if (tagProblem) issues.push({ path: `nodes.${i}.tags`, message: tagProblem });
    const pair = `${node.name}\u0000${node.parent}`;
    const first = position.get(node.name);
    const firstLevel = first === undefined ? undefined : nodes[first]?.level;
    if (node.name === instanceName) {
      issues.push({ path: `nodes.${i}.name`, message: `${node.name} is the instance node's name`, value: node.name });
    } else if (pairs.has(pair)) {
      issues.push({
        path: `nodes.${i}.name`,
        message: `node ${node.name} is listed twice under ${node.parent}`,
        value: node.name,
      });
    } else if (firstLevel !== undefined && firstLevel !== node.level) {
      issues.push({
        path: `nodes.${i}.name`,
        message: `node ${node.name} is listed at levels ${firstLevel} and ${node.level}; a name may repeat (a replica) only within one level`,
        value: node.name,
      });
    }
    pairs.add(pair);
    if (first === undefined) position.set(node.name, i);
    if (levels && levelIndex(levels, node.level) <= 0) {
      issues.push({
        path: `nodes.${i}.level`,
        message: `unknown level ${node.level}; the configured levels are ${levels.join(", ")}`,
        value: node.level,
      });
    }
  }
  for (const [i, node] of nodes.entries()) {
    const parentAt = position.get(node.parent);
    if (parentAt === undefined) continue;
    if (parentAt > i) {
      issues.push({
        path: `nodes.${i}.parent`,
        message: `parent ${node.parent} is listed after its child; list parents first`,
        value: node.parent,
      });
    }
    const parent = nodes[parentAt];
    if (levels && parent && levelIndex(levels, parent.level) !== levelIndex(levels, node.level) - 1) {
      issues.push({
        path: `nodes.${i}.parent`,
        message: `parent ${node.parent} is at level ${parent.level}, not the level just above ${node.level}`,
        value: node.parent,
      });
    }
  }
  return issues;
}

function checkSourceName(source: string): void {
  if (source === "" || source.length > MAX_PUSHED_SOURCE_NAME) {
    throw new ValidationError(
      `A node source name has 1 to ${MAX_PUSHED_SOURCE_NAME} characters (MAX_NODE_SOURCE_NAME_CHARS)`,
      [{ path: "source", message: `1 to ${MAX_PUSHED_SOURCE_NAME} characters`, value: source.slice(0, 50) }],
    );
  }
}

/**
 * `PUT /nodes/{source}`: replaces the nodes of one pushed source. `expectedVersion` comes from
 * If-Match (0 = none pushed yet). A push equal to what is stored writes nothing and succeeds
 * whatever If-Match said, so a retried push is harmless; it pokes only when something changed.
 */
export async function pushNodes(deps: ApiDeps, source: string, body: unknown, expectedVersion?: number | null) {
  checkSourceName(source);
  // Counted before zod reads a million entries; the tree's own limit bounds one source too.
  const count = isPlainObject(body) && Array.isArray(body.nodes) ? body.nodes.length : 0;
  if (count > MAX_NODES) {
    const message = overLimit("the number of nodes", count, "MAX_NODES");
    throw new ValidationError(`Too many nodes for source ${source}: ${message}`, [{ path: "nodes", message }]);
  }
  const { nodes } = validate(pushSchema, body, `nodes for source ${source}`);
  const current = await readCurrentConfig(deps);
  const issues = checkPushedNodes(nodes, current?.config.settings.levels, deps.instanceName);
  if (issues.length > 0) {
    throw new ValidationError(`The nodes for source ${source} are invalid; nothing was stored.`, capIssues(issues));
  }
  const specs: NodeSpec[] = nodes.map((node) => ({
    name: node.name,
    level: node.level,
    parent: node.parent,
    ...(node.enabled !== undefined ? { enabled: node.enabled } : {}),
    ...(node.tags !== undefined ? { tags: node.tags } : {}),
  }));
  const { head, changed } = await writePushedNodes(deps.store, source, specs, deps.clock(), expectedVersion);
  if (changed) await pokeQuietly(deps, `nodes of source ${source} pushed`);
  return { source, version: head.version, changed, count: head.count, updatedAtMs: head.updatedAtMs };
}

/** `GET /nodes/{source}`: what was last pushed for one source, with its version (the ETag). */
export async function getPushedNodes(deps: ApiDeps, source: string) {
  checkSourceName(source);
  const pushed = await readPushedNodes(deps.store, source);
  if (!pushed) throw new NotFoundError(`Nothing was pushed for node source ${source}`);
  return { ...pushed, count: pushed.nodes.length };
}
