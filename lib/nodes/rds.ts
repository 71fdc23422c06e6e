// The `rds` node source: the account's RDS and Aurora topology as nodes, Bistro's canonical
// "database host, then database" limit. By default clusters become one level and their
// instances the next (`"levels": ["cluster", "instance"]`); `["instance"]` lists instances
// alone. Instances outside any cluster hang under a node named by `standalone_cluster`
// (default "standalone"). A node is enabled only while its status is one of
// `enabled_statuses` (default ["available"]), so nothing starts on a stopped or rebooting
// database and running tasks there become orphans. With `"tags": true` each node carries
// its AWS tags as "key=value" strings, for tag filters. Lists through the SDK's
// DescribeDBClusters / DescribeDBInstances paginators, filtered by `engines` if given.
import type { RDSClient } from "@aws-sdk/client-rds";
import type { NodeSpec } from "../model/tree";
import type { Listed } from "./rds-list";
import { describePref, levelBelowParents, NodeSourceError, type NodeSource, type NodeSourceContext } from "./source";

export const RDS_SOURCE = "rds";
type Kind = "cluster" | "instance";

interface RdsPrefs {
  kinds: Kind[];
  tags: boolean;
  engines: string[] | undefined;
  enabledStatuses: Set<string>;
  standaloneCluster: string;
}

const isStringArray = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((item) => typeof item === "string" && item !== "");

function readPrefs(prefs: Readonly<Record<string, unknown>>): RdsPrefs {
  const {
    levels = ["cluster", "instance"],
    tags = false,
    engines,
    enabled_statuses: enabledStatuses = ["available"],
    standalone_cluster: standaloneCluster = "standalone",
  } = prefs;
  const valid = [["cluster", "instance"], ["instance"], ["cluster"]].map((kinds) => JSON.stringify(kinds));
  if (!valid.includes(JSON.stringify(levels))) {
    throw new NodeSourceError(
      `"levels" must be ["cluster", "instance"], ["cluster"] or ["instance"], found ${describePref(levels)}`,
    );
  }
  if (typeof tags !== "boolean") throw new NodeSourceError(`"tags" must be true or false, found ${describePref(tags)}`);
  if (engines !== undefined && (!isStringArray(engines) || engines.length === 0)) {
    throw new NodeSourceError(`"engines" must be a non-empty array of engine names, found ${describePref(engines)}`);
  }
  if (!isStringArray(enabledStatuses)) {
    throw new NodeSourceError(
      `"enabled_statuses" must be an array of status names, found ${describePref(enabledStatuses)}`,
    );
  }
  if (typeof standaloneCluster !== "string" || standaloneCluster === "") {
    throw new NodeSourceError(`"standalone_cluster" must be a node name, found ${describePref(standaloneCluster)}`);
  }
  return {
    kinds: levels as Kind[],
    tags,
    engines,
    enabledStatuses: new Set(enabledStatuses),
    standaloneCluster,
  };
}

/** `rds` for the client's account and region; `client` is called on first use. */
export function rdsSource(client: () => RDSClient | Promise<RDSClient>): NodeSource {
  return {
    name: RDS_SOURCE,
    async fetch(context: NodeSourceContext): Promise<NodeSpec[]> {
      const prefs = readPrefs(context.prefs);
      const { level, parents } = levelBelowParents(context);
      if (parents.length !== 1) {
        throw new NodeSourceError(
          `rds lists one account and region, so its parent_level must hold exactly one node; it holds ${parents.length}`,
        );
      }
      const parent = parents[0] ?? "";
      const first = context.levels.indexOf(level);
      const levels = context.levels.slice(first, first + prefs.kinds.length);
      if (levels.length < prefs.kinds.length) {
        throw new NodeSourceError(
          `"levels" ${JSON.stringify(prefs.kinds)} needs ${prefs.kinds.length} levels below the parent`,
        );
      }
      const filters = prefs.engines ? [{ Name: "engine", Values: prefs.engines }] : undefined;
      const rds = await client();
      // The SDK's RDS package loads here, on the first refresh of an `rds` entry (bundles stay light).
      const { listClusters, listInstances } = await import("./rds-list");
      const node = (item: Listed, levelName: string, above: string): NodeSpec => ({
        name: item.id,
        level: levelName,
        parent: above,
        enabled: prefs.enabledStatuses.has(item.status),
        ...(prefs.tags && item.tags.length > 0 ? { tags: item.tags } : {}),
      });
      if (prefs.kinds.length === 1) {
        const items =
          prefs.kinds[0] === "cluster" ? await listClusters(rds, filters) : await listInstances(rds, filters);
        return items.map((item) => node(item, level, parent));
      }
      const [clusters, instances] = await Promise.all([listClusters(rds, filters), listInstances(rds, filters)]);
      const [clusterLevel = level, instanceLevel = level] = levels;
      const nodes = clusters.map((cluster) => node(cluster, clusterLevel, parent));
      const known = new Set(clusters.map((cluster) => cluster.id));
      const standalone = instances.filter((instance) => instance.cluster === undefined || !known.has(instance.cluster));
      if (standalone.length > 0) {
        nodes.push({ name: prefs.standaloneCluster, level: clusterLevel, parent, enabled: true });
      }
      for (const instance of instances) {
        const above =
          instance.cluster !== undefined && known.has(instance.cluster) ? instance.cluster : prefs.standaloneCluster;
        nodes.push(node(instance, instanceLevel, above));
      }
      return nodes;
    },
  };
}
