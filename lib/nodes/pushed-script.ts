// The `script` node source where no script may run (the AWS round and API functions): it serves
// what `sous nodes push --from-script` pushed for the entry instead of running the program. The
// set's name is the entry's `name` pref, or else the script's file name (`/opt/list-dbs.sh` ->
// `list-dbs.sh`), the name the push command uses by default. As a script run would, it gives
// each current parent its pushed children at the level below `parent_level`; children of parents
// that are gone are dropped. Nothing pushed yet means no children and a problem shown by the
// `errors` handler, like a script with no good run yet.
import { basename } from "node:path";
import type { NodeSpec } from "../model/tree";
import type { StoreContext } from "../store/context";
import { readNodeSetHead } from "../store/node-sets";
import { MAX_PUSHED_SOURCE_NAME, pushedSetName, readPushedNodes } from "./pushed";
import { scriptPrefs } from "./script";
import { describePref, levelBelowParents, NodeSourceError, type NodeSource, type NodeSourceContext } from "./source";

/** The pushed set a `script` entry reads when scripts cannot run: `name`, else the script's file name. */
export function scriptPushName(script: string, name?: unknown): string {
  const chosen = name === undefined ? basename(script) : name;
  if (typeof chosen !== "string" || chosen === "" || chosen.length > MAX_PUSHED_SOURCE_NAME) {
    throw new NodeSourceError(
      `"name" (the pushed source sous nodes push --from-script replaces) must have 1 to ${MAX_PUSHED_SOURCE_NAME} characters, found ${describePref(chosen)}`,
    );
  }
  return chosen;
}

const setOf = (prefs: Readonly<Record<string, unknown>>) => scriptPushName(scriptPrefs(prefs).script, prefs.name);

export function pushedScriptSource(ctx: StoreContext): NodeSource {
  const problems = new Map<string, string>();
  return {
    name: "script",
    async fetch(context: NodeSourceContext): Promise<NodeSpec[]> {
      const { script } = scriptPrefs(context.prefs);
      const name = scriptPushName(script, context.prefs.name);
      const { level, parents } = levelBelowParents(context);
      const pushed = await readPushedNodes(ctx, name);
      if (!pushed) {
        problems.set(
          name,
          `script ${script} runs only where sous nodes push --from-script ${script} --source ${name} runs, and nothing was pushed yet, so it has no nodes`,
        );
        return [];
      }
      problems.delete(name);
      const current = new Set(parents);
      return pushed.nodes
        .filter((node) => current.has(node.parent))
        .map((node) => ({
          name: node.name,
          level,
          parent: node.parent,
          ...(node.enabled === false ? { enabled: false } : {}),
          ...(node.tags ? { tags: node.tags } : {}),
        }));
    },
    checkPrefs: ({ prefs }) => {
      setOf(prefs);
    },
    async inputVersion(prefs): Promise<string> {
      const head = await readNodeSetHead(ctx, pushedSetName(setOf(prefs)));
      return head ? head.hash : "none";
    },
    problems: () => [...problems.values()],
  };
}
