// The `s3_prefixes` node source on the S3 emulator (fauxqs): delimiter listing turns key
// prefixes into levels, pages are followed, {parent} splits one bucket by a level above, and
// an over-limit or missing bucket fails the source with the cause named.
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { s3PrefixesSource } from "../../lib/nodes/s3-prefixes";
import type { NodeSourceContext } from "../../lib/nodes/source";
import type { NodeSpec } from "../../lib/model/tree";
import { nodeContext } from "../helpers/node-context";
import { emulatorClients, uniqueName } from "../helpers/aws";

const aws = emulatorClients();
const bucket = uniqueName("lake");
const source = s3PrefixesSource(() => aws.s3);

/** The source's nodes as an array (sources may return any iterable). */
const fetchAll = async (context: NodeSourceContext): Promise<NodeSpec[]> => [...(await source.fetch(context))];

const context = (prefs: Record<string, unknown>, nodes: NodeSpec[] = []): NodeSourceContext =>
  nodeContext({
    levels: ["day", "region"],
    instanceName: "scheduler",
    nodes,
    prefs: { parent_level: "instance", bucket, ...prefs },
  });

beforeAll(async () => {
  await aws.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const keys = [
    "dataset/dt=2026-11-01/region=eu/part-0.parquet",
    "dataset/dt=2026-11-01/region=eu/part-1.parquet",
    "dataset/dt=2026-11-01/region=us/part-0.parquet",
    "dataset/dt=2026-11-02/region=eu/part-0.parquet",
    "dataset/_SUCCESS",
    "other/x",
  ];
  for (const Key of keys) await aws.s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: "x" }));
});
afterAll(() => {
  aws.destroy();
});

test("prefix, delimiter and depth become a day level and a region level", async () => {
  expect(await fetchAll(context({ prefix: "dataset/", depth: 2 }))).toEqual([
    { name: "dataset/dt=2026-11-01", level: "day", parent: "scheduler" },
    { name: "dataset/dt=2026-11-02", level: "day", parent: "scheduler" },
    { name: "dataset/dt=2026-11-01/region=eu", level: "region", parent: "dataset/dt=2026-11-01" },
    { name: "dataset/dt=2026-11-01/region=us", level: "region", parent: "dataset/dt=2026-11-01" },
    { name: "dataset/dt=2026-11-02/region=eu", level: "region", parent: "dataset/dt=2026-11-02" },
  ]);
});

test("{parent} in the prefix lists each parent's own prefix", async () => {
  const nodes = await fetchAll(
    context({ parent_level: "day", prefix: "{parent}/" }, [
      { name: "dataset/dt=2026-11-02", level: "day", parent: "scheduler" },
    ]),
  );
  expect(nodes).toEqual([
    { name: "dataset/dt=2026-11-02/region=eu", level: "region", parent: "dataset/dt=2026-11-02" },
  ]);
});

test("max_nodes bounds the listing, and bad prefs or a missing bucket fail with the cause named", async () => {
  await expect(source.fetch(context({ prefix: "dataset/", depth: 2, max_nodes: 4 }))).rejects.toThrow(
    /more than max_nodes = 4/,
  );
  await expect(source.fetch(context({ prefix: "dataset/", depth: 3 }))).rejects.toThrow(/depth 3 needs 3 levels/);
  await expect(source.fetch(context({ delimiter: "//" }))).rejects.toThrow(/"delimiter" must be one character/);
  await expect(source.fetch(context({ bucket: "Bad_Bucket" }))).rejects.toThrow(/"bucket" is required/);
  await expect(source.fetch(context({ bucket: uniqueName("missing") }))).rejects.toThrow();
});
