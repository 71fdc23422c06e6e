// The CDK app of cdk.json: one SousStack, checked by cdk-nag's AwsSolutions pack (an
// unacknowledged finding fails `cdk synth`). Options come from context (`-c key=value` or
// cdk.json), documented in docs/deploy.md.
import { App, RemovalPolicy, Validations } from "aws-cdk-lib";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as iam from "aws-cdk-lib/aws-iam";
import { AwsSolutionsChecks } from "cdk-nag";

import type { SousSchedulerProps } from "./sous-scheduler";
import { SousStack } from "./sous-stack";

const app = new App();

function context(key: string): string | undefined {
  const value: unknown = app.node.tryGetContext(key);
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return String(value);
  throw new Error(`Context ${key} must be a string, number or boolean.`);
}

function flag(key: string): boolean | undefined {
  const value = context(key);
  if (value === undefined) return undefined;
  if (value !== "true" && value !== "false") throw new Error(`Context ${key} must be true or false, not ${value}.`);
  return value === "true";
}

const workerImage = context("sous:workerImage");
const workerCommand = context("sous:workerCommand");
const queuePrefix = context("sous:queuePrefix");
const workerCount = context("sous:workers") === undefined ? undefined : Number(context("sous:workers"));
if (workerCount !== undefined && !(Number.isInteger(workerCount) && workerCount >= 0)) {
  throw new Error(
    `Context sous:workers must be a whole number, the most ECS workers (0: none), not ${context("sous:workers")}.`,
  );
}
const scheduler: SousSchedulerProps = {
  ...(queuePrefix ? { queuePrefix } : {}),
  ...(flag("sous:deletionProtection") === false ? { deletionProtection: false } : {}),
  ...(context("sous:removalPolicy") === "destroy" ? { removalPolicy: RemovalPolicy.DESTROY } : {}),
  ...(flag("sous:workerHostRole") ? { workerHostPrincipal: new iam.ServicePrincipal("ec2.amazonaws.com") } : {}),
  workers:
    workerCount === 0
      ? false
      : {
          ...(workerImage ? { image: ecs.ContainerImage.fromRegistry(workerImage) } : {}),
          ...(workerCommand ? { command: workerCommand } : {}),
          // The most workers the backlog may bring; an idle deployment runs none.
          ...(workerCount ? { maxCount: workerCount } : {}),
        },
};

new SousStack(app, context("sous:stackName") ?? "Sous", {
  description: "Sous: Bistro's sharded batch scheduler on AWS",
  scheduler,
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
