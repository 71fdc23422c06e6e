// The optional EC2 Auto Scaling group of self-managed worker hosts: a launch template whose user
// data installs the `npm pack` artifact and starts the systemd unit, a role with the worker policy
// and read access to that artifact only, and no cdk-nag finding left unexplained.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Match } from "aws-cdk-lib/assertions";
import * as ec2 from "aws-cdk-lib/aws-ec2";

import { asList, iamStatements, nagFindings, nagReport, synthSous } from "./synth";

const dir = mkdtempSync(join(tmpdir(), "sous-hosts-"));
const tarball = join(dir, "sous-0.1.0.tgz");
writeFileSync(tarball, "not really a tarball");

const hosts = (extra: object = {}) => ({
  workers: false as const,
  selfManagedHosts: {
    instanceType: new ec2.InstanceType("c7g.large"),
    packageTarball: tarball,
    command: "/opt/my-tasks/run.sh",
    resources: { cpu: 2 },
    setupCommands: ["echo set up"],
    minCapacity: 0,
    maxCapacity: 3,
    ...extra,
  },
});

describe("self-managed worker hosts (EC2 Auto Scaling group)", () => {
  const { stack, template } = synthSous(hosts());

  test("an Auto Scaling group from a launch template: ARM AL2023, IMDSv2, encrypted root volume", () => {
    template.hasResourceProperties("AWS::AutoScaling::AutoScalingGroup", { MinSize: "0", MaxSize: "3" });
    template.hasResourceProperties("AWS::EC2::LaunchTemplate", {
      LaunchTemplateData: Match.objectLike({
        InstanceType: "c7g.large",
        MetadataOptions: Match.objectLike({ HttpTokens: "required" }),
        BlockDeviceMappings: [Match.objectLike({ Ebs: Match.objectLike({ Encrypted: true, VolumeType: "gp3" }) })],
      }),
    });
    // No ECS without ECS workers, but a VPC for the hosts.
    template.resourceCountIs("AWS::ECS::Cluster", 0);
    template.resourceCountIs("AWS::EC2::VPC", 1);
  });

  test("user data installs the package, writes the unit and its settings, and starts the worker", () => {
    const userData = JSON.stringify(stack.resolve(stack.scheduler.workerHosts!.userData.render()));
    for (const expected of [
      "aws s3 cp",
      "dnf install -y nodejs22 nodejs22-npm util-linux",
      "npm-22 install --global --no-audit --no-fund /opt/sous/sous.tgz",
      "SOUS_TASK_COMMAND=/opt/my-tasks/run.sh",
      "SOUS_WORKER_ARGS=--resources cpu=2",
      "SOUS_API=https://",
      "ExecStart=/usr/bin/env sous worker --api ${SOUS_API} --command ${SOUS_TASK_COMMAND}",
      "echo set up",
      "systemctl enable --now sous-worker",
    ]) {
      expect(userData).toContain(expected);
    }
  });

  test("the hosts' role: the worker policy, and reading only the package asset", () => {
    const role = stack.scheduler.workerHosts!.role;
    template.hasResourceProperties("AWS::IAM::Role", {
      AssumeRolePolicyDocument: Match.objectLike({
        Statement: [Match.objectLike({ Principal: { Service: "ec2.amazonaws.com" } })],
      }),
      ManagedPolicyArns: [{ Ref: stack.getLogicalId(stack.scheduler.workerPolicy.node.defaultChild as never) }],
    });
    const roleId = stack.getLogicalId(role.node.defaultChild as never);
    const own = iamStatements(template).filter(({ policy }) => {
      const roles = (template.toJSON() as { Resources: Record<string, { Properties?: { Roles?: unknown[] } }> })
        .Resources[policy]?.Properties?.Roles;
      return JSON.stringify(roles ?? []).includes(roleId);
    });
    const actions = own.flatMap(({ statement }) => asList(statement.Action)).sort();
    expect(actions).toEqual(["s3:GetBucket*", "s3:GetObject*", "s3:List*"]);
  });

  test("the WorkerCommand output runs as printed: the installed sous, only the API URL and the task command", () => {
    const outputs = template.findOutputs("*");
    const command = JSON.stringify(
      stack.resolve(Object.entries(outputs).find(([id]) => id.includes("WorkerCommand"))?.[1].Value),
    );
    expect(command).toContain("npx --no-install sous worker --api https://");
    expect(command).toContain("--command /opt/my-tasks/run.sh");
    expect(command).not.toMatch(/TABLE_NAME|LOG_BUCKET|--table|--log-bucket/);
  });

  test("no unacknowledged cdk-nag finding", () => {
    expect(nagFindings(nagReport(stack))).toEqual([]);
  });

  test("bad capacities are refused at synth", () => {
    expect(() => synthSous(hosts({ minCapacity: 3, maxCapacity: 2 }))).toThrow(/0 <= min <= max/);
  });
});
