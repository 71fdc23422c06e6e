// The `s3_prefixes` node source: the "folders" of an S3 bucket become nodes, one level per
// delimiter step. With prefix `dataset/` and depth 2, `dataset/dt=2026-11-01/region=eu/...`
// gives a day node `dataset/dt=2026-11-01` under each parent and a region node
// `dataset/dt=2026-11-01/region=eu` under it. Listing uses ListObjectsV2's paginator with a
// Delimiter, so only common prefixes come back, never the objects themselves. `{parent}` in
// the prefix is replaced by each parent's name, so one bucket can be split by a level above.
import type { S3Client } from "@aws-sdk/client-s3";
import type { NodeSpec } from "../model/tree";
import { mapLimited } from "./script";
import { describePref, levelBelowParents, NodeSourceError, type NodeSource, type NodeSourceContext } from "./source";

export const S3_PREFIXES_SOURCE = "s3_prefixes";
/** Default and hard bound of the nodes one s3_prefixes entry may make. */
export const DEFAULT_S3_MAX_NODES = 100_000;
export const MAX_S3_NODES = 1_000_000;
/** Listings run this many at a time. */
const LIST_CONCURRENCY = 8;

interface S3Prefs {
  bucket: string;
  prefix: string;
  delimiter: string;
  depth: number;
  maxNodes: number;
}

function readPrefs(prefs: Readonly<Record<string, unknown>>): S3Prefs {
  const { bucket, prefix = "", delimiter = "/", depth = 1, max_nodes: maxNodes = DEFAULT_S3_MAX_NODES } = prefs;
  if (typeof bucket !== "string" || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new NodeSourceError(`"bucket" is required: an S3 bucket name, found ${describePref(bucket)}`);
  }
  if (typeof prefix !== "string" || prefix.length > 1024) {
    throw new NodeSourceError(
      `"prefix" must be a key prefix of at most 1024 characters, found ${describePref(prefix)}`,
    );
  }
  if (typeof delimiter !== "string" || delimiter.length !== 1) {
    throw new NodeSourceError(`"delimiter" must be one character, found ${describePref(delimiter)}`);
  }
  if (typeof depth !== "number" || !Number.isInteger(depth) || depth < 1) {
    throw new NodeSourceError(`"depth" must be a whole number of levels >= 1, found ${describePref(depth)}`);
  }
  if (typeof maxNodes !== "number" || !Number.isInteger(maxNodes) || maxNodes < 1 || maxNodes > MAX_S3_NODES) {
    throw new NodeSourceError(
      `"max_nodes" must be a whole number from 1 to ${MAX_S3_NODES}, found ${describePref(maxNodes)}`,
    );
  }
  return { bucket, prefix, delimiter, depth, maxNodes };
}

export function s3PrefixesSource(client: () => S3Client | Promise<S3Client>): NodeSource {
  return {
    name: S3_PREFIXES_SOURCE,
    async fetch(context: NodeSourceContext): Promise<NodeSpec[]> {
      const prefs = readPrefs(context.prefs);
      const { level, parents } = levelBelowParents(context);
      const first = context.levels.indexOf(level);
      const levels = context.levels.slice(first, first + prefs.depth);
      if (levels.length < prefs.depth) {
        throw new NodeSourceError(
          `depth ${prefs.depth} needs ${prefs.depth} levels from "${level}" down; only ${levels.length} are configured`,
        );
      }
      // The SDK's S3 package loads here, on the first refresh of an `s3_prefixes` entry.
      const { commonPrefixes } = await import("./s3-list");
      const s3 = await client();
      let made = 0;
      const list = async (prefix: string): Promise<string[]> => {
        const found: string[] = [];
        for await (const common of commonPrefixes(s3, prefs.bucket, prefix, prefs.delimiter)) {
          if (++made > prefs.maxNodes) {
            throw new NodeSourceError(
              `s3://${prefs.bucket}/${prefs.prefix} has more than max_nodes = ${prefs.maxNodes} prefixes`,
            );
          }
          found.push(common);
        }
        return found;
      };
      const nodes: NodeSpec[] = [];
      const name = (prefix: string) => prefix.slice(0, -prefs.delimiter.length);
      for (const parent of parents) {
        // Breadth first: each level lists every prefix of the level above.
        let frontier: { prefix: string; parent: string }[] = [
          { prefix: prefs.prefix.replaceAll("{parent}", parent), parent },
        ];
        for (const levelName of levels) {
          const listed = await mapLimited(frontier, LIST_CONCURRENCY, (item) => list(item.prefix));
          const below: { prefix: string; parent: string }[] = [];
          listed.forEach((prefixes, i) => {
            const above = frontier[i]?.parent ?? parent;
            for (const prefix of prefixes) {
              nodes.push({ name: name(prefix), level: levelName, parent: above });
              below.push({ prefix, parent: name(prefix) });
            }
          });
          frontier = below;
        }
      }
      return nodes;
    },
  };
}
