// A job's shards for the web UI (`GET /jobs/{name}/shards`): the nodes of one level (all, or
// those under one parent), each with the histogram codes of the job's task nodes beneath it.
// Bistro's `histogram` handler counts a whole level at once; this is the same per-node status,
// aggregated by a chosen ancestor, so a job over 100k nodes can be shown a level at a time and
// drilled into, without sending every node to the browser.
import { NotFoundError } from "../store/errors";
import type { NodeTree } from "../model/tree";
import type { ApiDeps } from "./deps";
import { ValidationError } from "./errors";
import { histogramCode, taskNodeBits, type HistogramTask } from "./histogram";
import { decodeCursor, encodeCursor, type RouteInput } from "./http";
import { ApiView, requireCurrentConfig } from "./state";

/** Nodes per page by default, and at most (a level can hold a million nodes). */
export const DEFAULT_SHARDS_LIMIT = 1000;
export const MAX_SHARDS_LIMIT = 10_000;

export interface ShardGroup {
  name: string;
  /** Histogram code -> task nodes under this node with that code (the node itself at the task level). */
  counts: Record<string, number>;
  /** Whether the node itself is enabled. */
  enabled: boolean;
}

const isOffsetCursor = (value: unknown): value is { offset: number } =>
  typeof value === "object" &&
  value !== null &&
  Number.isSafeInteger((value as { offset?: unknown }).offset) &&
  (value as { offset: number }).offset >= 0;

function badParameter(name: string, message: string, value: string): ValidationError {
  return new ValidationError(`Query parameter ${name}: ${message}`, [{ path: name, message, value }]);
}

/** The ancestor of `node` at level index `level` (the node itself at its own level). */
function ancestorAt(tree: NodeTree, node: number, level: number): number {
  let n = node;
  while (n >= 0 && (tree.levelOf[n] ?? 0) > level) n = tree.parentOf[n] ?? -1;
  return n;
}

/**
 * `GET /jobs/{name}/shards?level&parent&cursor&limit`. `level` defaults to the level below
 * `parent` (or the first data level); it must lie between the parent's level and the job's
 * `level_for_tasks`.
 */
export async function jobShards(deps: ApiDeps, name: string, input: RouteInput) {
  const current = await requireCurrentConfig(deps);
  const job = Object.hasOwn(current.config.jobs, name) ? current.config.jobs[name] : undefined;
  if (!job) throw new NotFoundError(`No job named ${name}`);
  const view = new ApiView(deps, current);
  const tree = await view.nodeTree();
  const taskLevel = tree.levels.indexOf(job.levelForTasks);
  if (taskLevel < 0) throw new ValidationError(`Job ${name} runs on level ${job.levelForTasks}, which has no nodes`);

  const parentName = input.query.get("parent");
  let parent = -1;
  if (parentName !== undefined && parentName !== "") {
    parent = tree.indexOf.get(parentName) ?? -1;
    if (parent < 0) throw badParameter("parent", "no such node", parentName);
  }
  const parentLevel = parent >= 0 ? (tree.levelOf[parent] ?? 0) : 0;
  const levelName = input.query.get("level");
  let level = Math.min(parentLevel + 1, taskLevel);
  if (levelName !== undefined && levelName !== "") {
    level = tree.levels.indexOf(levelName);
    if (level < 0) throw badParameter("level", `unknown level; levels are ${tree.levels.join(", ")}`, levelName);
  }
  if (level > taskLevel || (parent >= 0 && level <= parentLevel)) {
    throw badParameter(
      "level",
      `must be below the parent's level and at most the job's level ${job.levelForTasks}`,
      tree.levels[level] ?? "",
    );
  }
  const limit = input.query.int("limit", { min: 1, max: MAX_SHARDS_LIMIT }) ?? DEFAULT_SHARDS_LIMIT;
  const cursor = input.query.get("cursor");
  const offset = cursor ? decodeCursor(cursor, isOffsetCursor).offset : 0;

  const members = Array.from(tree.byLevel[level] ?? []).filter(
    (node) => parent < 0 || ancestorAt(tree, node, parentLevel) === parent,
  );
  const end = Math.min(members.length, offset + limit);
  const page = members.slice(offset, end);
  const position = new Map(page.map((node, i) => [node, i]));

  const items = await view.tasksOf([job.name]);
  const tasks = new Map<string, HistogramTask>(
    items.map((item) => [
      item.node,
      { running: item.running !== undefined, ...(item.status ? { status: item.status } : {}) },
    ]),
  );
  const own = taskNodeBits(tree, job, tasks, deps.clock() / 1000);
  const counts = page.map(() => new Map<string, number>());
  own.nodes.forEach((node, i) => {
    const at = position.get(ancestorAt(tree, node, level));
    if (at === undefined) return;
    const code = histogramCode(own.bits[i] ?? 0);
    const byCode = counts[at];
    byCode?.set(code, (byCode.get(code) ?? 0) + 1);
  });
  return {
    job: job.name,
    levels: tree.levels,
    level: tree.levels[level] ?? "",
    levelForTasks: job.levelForTasks,
    parent: parent >= 0 ? tree.names.at(parent) : null,
    total: members.length,
    nodes: page.map((node, i): ShardGroup => ({
      name: tree.names.at(node),
      counts: Object.fromEntries(counts[i] ?? []),
      enabled: tree.enabled[node] !== 0,
    })),
    nextCursor: end < members.length ? encodeCursor({ offset: end }) : null,
  };
}
