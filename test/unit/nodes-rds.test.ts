// The `rds` node source against mocked DescribeDBClusters/DescribeDBInstances (no RDS
// emulator runs here): clusters then instances, standalone instances, status-enabled nodes,
// tags, engine filters, pagination, and bad prefs.
import { DescribeDBClustersCommand, DescribeDBInstancesCommand, RDSClient } from "@aws-sdk/client-rds";
import { mockClient } from "aws-sdk-client-mock";
import { rdsSource } from "../../lib/nodes/rds";
import type { NodeSourceContext } from "../../lib/nodes/source";
import type { NodeSpec } from "../../lib/model/tree";
import { nodeContext } from "../helpers/node-context";

const rds = mockClient(RDSClient);
const client = new RDSClient({ region: "us-east-1", credentials: { accessKeyId: "a", secretAccessKey: "b" } });
const source = rdsSource(() => client);

/** The source's nodes as an array (sources may return any iterable). */
const fetchAll = async (context: NodeSourceContext): Promise<NodeSpec[]> => [...(await source.fetch(context))];

const context = (
  prefs: Record<string, unknown>,
  levels = ["cluster", "db"],
  nodes: NodeSpec[] = [],
): NodeSourceContext =>
  nodeContext({ levels, instanceName: "scheduler", nodes, prefs: { parent_level: "instance", ...prefs } });

beforeEach(() => {
  rds.reset();
  rds
    .on(DescribeDBClustersCommand)
    .resolvesOnce({
      DBClusters: [{ DBClusterIdentifier: "orders", Status: "available", TagList: [{ Key: "tier", Value: "gold" }] }],
      Marker: "page2",
    })
    .resolvesOnce({ DBClusters: [{ DBClusterIdentifier: "billing", Status: "backing-up" }] });
  rds.on(DescribeDBInstancesCommand).resolves({
    DBInstances: [
      { DBInstanceIdentifier: "orders-1", DBClusterIdentifier: "orders", DBInstanceStatus: "available" },
      { DBInstanceIdentifier: "orders-2", DBClusterIdentifier: "orders", DBInstanceStatus: "rebooting" },
      { DBInstanceIdentifier: "billing-1", DBClusterIdentifier: "billing", DBInstanceStatus: "available" },
      {
        DBInstanceIdentifier: "legacy",
        DBInstanceStatus: "available",
        TagList: [{ Key: "team", Value: "core" }],
      },
    ],
  });
});

test("clusters, then their instances; standalone instances under one node; enabled only when available", async () => {
  expect(await fetchAll(context({}))).toEqual([
    { name: "orders", level: "cluster", parent: "scheduler", enabled: true },
    { name: "billing", level: "cluster", parent: "scheduler", enabled: false },
    { name: "standalone", level: "cluster", parent: "scheduler", enabled: true },
    { name: "orders-1", level: "db", parent: "orders", enabled: true },
    { name: "orders-2", level: "db", parent: "orders", enabled: false },
    { name: "billing-1", level: "db", parent: "billing", enabled: true },
    { name: "legacy", level: "db", parent: "standalone", enabled: true },
  ]);
  // Both pages of clusters were read (the paginator follows Marker).
  expect(rds.commandCalls(DescribeDBClustersCommand)).toHaveLength(2);
  expect(rds.commandCalls(DescribeDBClustersCommand)[1]?.args[0].input).toMatchObject({ Marker: "page2" });
});

test("instances alone, with tags and an engine filter", async () => {
  const nodes = await fetchAll(
    context({ levels: ["instance"], tags: true, engines: ["postgres"], enabled_statuses: ["available", "rebooting"] }),
  );
  expect(nodes.map((n) => [n.name, n.level, n.parent, n.enabled, n.tags])).toEqual([
    ["orders-1", "cluster", "scheduler", true, undefined],
    ["orders-2", "cluster", "scheduler", true, undefined],
    ["billing-1", "cluster", "scheduler", true, undefined],
    ["legacy", "cluster", "scheduler", true, ["team=core"]],
  ]);
  expect(rds.commandCalls(DescribeDBInstancesCommand)[0]?.args[0].input).toEqual({
    Filters: [{ Name: "engine", Values: ["postgres"] }],
  });
  expect(rds.commandCalls(DescribeDBClustersCommand)).toHaveLength(0);
});

test("cluster tags become node tags", async () => {
  const nodes = await fetchAll(context({ levels: ["cluster"], tags: true }));
  expect(nodes[0]).toEqual({
    name: "orders",
    level: "cluster",
    parent: "scheduler",
    enabled: true,
    tags: ["tier=gold"],
  });
});

test("bad prefs and too few levels are refused with the pref named", async () => {
  await expect(source.fetch(context({ levels: ["db", "cluster"] }))).rejects.toThrow(/"levels" must be/);
  await expect(source.fetch(context({ tags: "yes" }))).rejects.toThrow(/"tags" must be true or false/);
  await expect(source.fetch(context({ engines: [] }))).rejects.toThrow(/"engines" must be a non-empty array/);
  await expect(source.fetch(context({}, ["cluster"]))).rejects.toThrow(/needs 2 levels/);
  await expect(
    source.fetch(
      context({ parent_level: "cluster" }, undefined, [
        { name: "a", level: "cluster", parent: "scheduler" },
        { name: "b", level: "cluster", parent: "scheduler" },
      ]),
    ),
  ).rejects.toThrow(/exactly one node/);
});

test("an API failure fails the source", async () => {
  rds.on(DescribeDBInstancesCommand).rejects(new Error("AccessDenied: rds:DescribeDBInstances"));
  await expect(source.fetch(context({ levels: ["instance"] }))).rejects.toThrow(/AccessDenied/);
});
