// The `pushed` node source: serves the nodes last stored with `PUT /nodes/{source}` for the
// name in its prefs (`{"source": "pushed", "prefs": {"name": "inventory"}}`), tags included,
// so tag filters match them. Each pushed source is one stored node set (`pushed:<name>`); its
// version is the source's input version, so a round refreshes as soon as a push lands.
import { MAX_NODE_SOURCE_NAME_CHARS } from "../config/limits";
import type { NodeSpec } from "../model/tree";
import { bumpChangeSequence } from "../store/change-sequence";
import type { StoreContext } from "../store/context";
import { readNodeSet, readNodeSetHead, writeNodeSet, type NodeSetWrite } from "../store/node-sets";
import { describePref, NodeSourceError, type NodeSource, type NodeSourceContext } from "./source";

export const PUSHED_SOURCE = "pushed";
/** Pushed source names: what `PUT /nodes/{name}` takes. */
export const MAX_PUSHED_SOURCE_NAME = MAX_NODE_SOURCE_NAME_CHARS;

export interface PushedNodes {
  source: string;
  version: number;
  updatedAtMs: number;
  nodes: NodeSpec[];
}

/** The stored node set holding pushed source `source`. */
export const pushedSetName = (source: string) => `pushed:${source}`;

/**
 * Replaces the nodes of pushed source `source` (If-Match: `expectedVersion`), then bumps the
 * change sequence (even when the set was unchanged, so a retried push after a crash still
 * wakes an idle round).
 */
export async function writePushedNodes(
  ctx: StoreContext,
  source: string,
  nodes: readonly NodeSpec[],
  nowMs: number,
  expectedVersion?: number | null,
): Promise<NodeSetWrite> {
  const written = await writeNodeSet(ctx, pushedSetName(source), nodes, nowMs, expectedVersion);
  await bumpChangeSequence(ctx);
  return written;
}

/** The nodes last pushed for `source`; null when none were. */
export async function readPushedNodes(ctx: StoreContext, source: string): Promise<PushedNodes | null> {
  const set = await readNodeSet(ctx, pushedSetName(source));
  if (!set) return null;
  return { source, version: set.head.version, updatedAtMs: set.head.updatedAtMs, nodes: set.nodes };
}

function pushedName(prefs: Readonly<Record<string, unknown>>): string {
  const name = prefs.name;
  if (typeof name !== "string" || name === "" || name.length > MAX_PUSHED_SOURCE_NAME) {
    throw new NodeSourceError(
      `"name" is required: the source name nodes are pushed to (PUT /nodes/{name}, 1 to ${MAX_PUSHED_SOURCE_NAME} characters), found ${describePref(name)}`,
    );
  }
  return name;
}

export function pushedSource(ctx: StoreContext): NodeSource {
  return {
    name: PUSHED_SOURCE,
    async fetch(context: NodeSourceContext): Promise<NodeSpec[]> {
      const pushed = await readPushedNodes(ctx, pushedName(context.prefs));
      // Nothing pushed yet is an empty source, not a failure: a deployment may start before its feeder.
      return pushed?.nodes ?? [];
    },
    async inputVersion(prefs): Promise<string> {
      const head = await readNodeSetHead(ctx, pushedSetName(pushedName(prefs)));
      return head ? head.hash : "none";
    },
  };
}
