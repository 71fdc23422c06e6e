// Grants of the AWS-native node sources: none by default; with `nodeSources`, exactly
// s3:ListBucket on the named buckets limited to their prefixes, and the two RDS Describe calls.
// Any widening (another action, bucket, or a looser prefix) fails these tests.
import { Duration, Stack } from "aws-cdk-lib";
import { nagFindings, nagReport, resourcesOfType, synthSous } from "./synth";

function statements(props: Parameters<typeof synthSous>[0]) {
  const { stack, template } = synthSous(props);
  const all = Object.values(resourcesOfType(template, "AWS::IAM::Policy")).flatMap(
    (policy) => (policy.Properties?.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement,
  );
  return { stack, template, all: Stack.of(stack).resolve(all) as Record<string, unknown>[] };
}

const touchesNodeSources = (s: Record<string, unknown>) =>
  JSON.stringify(s.Action).includes("s3:ListBucket") || JSON.stringify(s.Action).includes("rds:");

test("no S3 listing or RDS access without nodeSources", () => {
  expect(statements({}).all.filter(touchesNodeSources)).toEqual([]);
});

test("nodeSources grants exactly the named buckets under their prefixes, and RDS Describe", () => {
  const { stack, template, all } = statements({
    nodeSources: { s3Prefixes: [{ bucket: "lake", prefix: "dataset/region={parent}/" }, { bucket: "raw" }], rds: true },
    nodesUpdate: Duration.seconds(60),
    nodesRetry: Duration.seconds(10),
  });
  const granted = all.filter(touchesNodeSources);
  expect(granted).toEqual([
    {
      Sid: "NodeSourceS3Prefixes0",
      Effect: "Allow",
      Action: "s3:ListBucket",
      Resource: { "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":s3:::lake"]] },
      Condition: { StringLike: { "s3:prefix": ["dataset/region=*"] } },
    },
    {
      Sid: "NodeSourceS3Prefixes1",
      Effect: "Allow",
      Action: "s3:ListBucket",
      Resource: { "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":s3:::raw"]] },
      Condition: { StringLike: { "s3:prefix": ["*"] } },
    },
    {
      Sid: "NodeSourceRds",
      Effect: "Allow",
      Action: ["rds:DescribeDBClusters", "rds:DescribeDBInstances"],
      Resource: "*",
    },
  ]);
  // Only the round function's role holds them (it runs the refresh).
  const holders = Object.entries(resourcesOfType(template, "AWS::IAM::Policy"))
    .filter(([, policy]) => JSON.stringify(policy.Properties).includes("NodeSource"))
    .map(([id]) => id);
  expect(holders).toHaveLength(1);
  expect(holders[0]).toMatch(/SchedulerRound/);
  const round = Object.values(resourcesOfType(template, "AWS::Lambda::Function")).find((fn) =>
    JSON.stringify(fn.Properties).includes("NODES_UPDATE_MS"),
  );
  expect((round?.Properties?.Environment as { Variables: Record<string, string> }).Variables).toMatchObject({
    NODES_UPDATE_MS: "60000",
    NODES_RETRY_MS: "10000",
  });
  expect(nagFindings(nagReport(stack))).toEqual([]);
});
