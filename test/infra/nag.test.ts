// cdk-nag's AwsSolutions pack over every shape of the construct: no unacknowledged finding, and
// every acknowledgment says why.
import { App, Stack } from "aws-cdk-lib";
import * as cognito from "aws-cdk-lib/aws-cognito";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as iam from "aws-cdk-lib/aws-iam";
import * as s3 from "aws-cdk-lib/aws-s3";

import { SousStack } from "../../infra/sous-stack";
import { nagFindings, nagReport, synthSous } from "./synth";

describe("cdk-nag AwsSolutions", () => {
  test.each([
    ["the default (Fargate workers, IAM auth)", {}],
    ["self-managed workers only", { workers: false as const }],
    ["EC2 capacity", { workers: { ec2Capacity: { instanceType: new ec2.InstanceType("m7g.large") } } }],
    ["API keys", { workers: false as const, apiAuthorization: { type: "apiKey" as const } }],
    [
      "a worker host role, no dashboard, no API logging role",
      {
        workers: false as const,
        workerHostPrincipal: new iam.ServicePrincipal("ec2.amazonaws.com"),
        dashboard: false,
        apiCloudWatchRole: false,
        tracing: false,
      },
    ],
  ])("%s: no unacknowledged finding", (_name, props) => {
    const report = nagReport(synthSous(props).stack);
    expect(nagFindings(report)).toEqual([]);
    expect(report.success).toBe(true);
  });

  test("a Cognito authorizer: no unacknowledged finding", () => {
    const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
    const pool = new cognito.UserPool(new Stack(app, "Identity"), "Pool");
    const stack = new SousStack(app, "Sous", {
      scheduler: { workers: false, apiAuthorization: { type: "cognito", userPools: [pool] } },
    });
    expect(nagFindings(nagReport(stack))).toEqual([]);
  });

  test("the check fails on a finding nobody acknowledged", () => {
    const { stack } = synthSous({ workers: false });
    new s3.Bucket(stack, "Unencrypted");
    const report = nagReport(stack);
    expect(report.success).toBe(false);
    expect(nagFindings(report)).toEqual(expect.arrayContaining(["AwsSolutions-S10 at Sous/Unencrypted/Resource"]));
  });

  test("every acknowledgment carries a specific reason", () => {
    const { stack } = synthSous({ workers: { ec2Capacity: { instanceType: new ec2.InstanceType("m7g.large") } } });
    const acknowledged = stack.node
      .findAll()
      .flatMap((construct) => construct.node.metadata.filter((entry) => entry.type === "aws:cdk:acknowledged-rules"))
      .flatMap((entry) => Object.entries(entry.data as Record<string, string>))
      .filter(([id]) => id.includes("AwsSolutions-"));
    expect(acknowledged.length).toBeGreaterThan(10);
    for (const [id, reason] of acknowledged) {
      expect(`${id}: ${reason}`).toMatch(/: .{60,}/);
    }
  });
});
