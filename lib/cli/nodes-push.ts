// `sous nodes push --from-script SCRIPT [--source NAME] --parent-level LEVEL`: where Lambda cannot
// run a `script` node source, the user runs it (on a host, a cron job, a systemd timer or a
// scheduled ECS task): the same script runner as `sous local`, once per node of the parent level
// read from the API, and the children pushed with `PUT /nodes/{NAME}` (NAME defaults to the
// script's file name, the set a `script` entry reads on AWS). A failing script pushes
// nothing, so the stored (last good) set stays and the command exits non-zero.
import type { listNodes, pushNodes } from "../api/nodes";
import { mapLimited, runNodeScript, SCRIPT_CONCURRENCY, DEFAULT_SCRIPT_TIMEOUT_SEC } from "../nodes";
import { scriptPushName } from "../nodes/pushed-script";
import { segment } from "./client";
import type { CommandContext } from "./commands";
import { printJson } from "./io";
import { UsageError } from "./usage-error";

type Answer<F extends (...args: never[]) => unknown> = Awaited<ReturnType<F>>;

export interface NodesPushOptions {
  fromScript: string;
  /** Default: the script's file name, the set a `script` entry without `name` reads on AWS. */
  source?: string;
  parentLevel: string;
  timeoutSec?: number;
  json?: boolean;
}

export async function nodesPushCommand(ctx: CommandContext, options: NodesPushOptions): Promise<void> {
  let source: string;
  try {
    source = scriptPushName(options.fromScript, options.source);
  } catch (error) {
    throw new UsageError(`--source: ${error instanceof Error ? error.message : String(error)}`);
  }
  let levels: readonly string[] = [];
  const parents: string[] = [];
  let cursor: string | undefined;
  do {
    const page: Answer<typeof listNodes> = await ctx.client.request("GET", "/nodes", {
      query: { level: options.parentLevel, cursor, limit: 1000 },
    });
    levels = page.levels;
    parents.push(...page.nodes.map((node) => node.name));
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  const level = levels[levels.indexOf(options.parentLevel) + 1];
  if (level === undefined) {
    throw new UsageError(`No level below ${options.parentLevel}; the levels are ${levels.join(", ")}`);
  }
  const timeoutSec = options.timeoutSec ?? DEFAULT_SCRIPT_TIMEOUT_SEC;
  const children = await mapLimited(parents, SCRIPT_CONCURRENCY, (parent) =>
    runNodeScript(options.fromScript, parent, { timeoutSec }),
  );
  const nodes = parents.flatMap((parent, i) => (children[i] ?? []).map((name) => ({ name, level, parent })));
  const answer: Answer<typeof pushNodes> = await ctx.client.request("PUT", `/nodes/${segment(source)}`, {
    body: { nodes },
  });
  if (options.json) {
    printJson(ctx.io, answer);
    return;
  }
  ctx.io.out(
    `Pushed ${answer.count} nodes under ${parents.length} ${options.parentLevel} nodes to source ${answer.source}.`,
  );
}
