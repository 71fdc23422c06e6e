// The stack `cdk deploy` creates: one SousScheduler with the props given (cdk.json's app reads
// them from context in infra/app.ts).
import { Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";

import { SousScheduler, type SousSchedulerProps } from "./sous-scheduler";

export interface SousStackProps extends StackProps {
  scheduler?: SousSchedulerProps;
}

export class SousStack extends Stack {
  readonly scheduler: SousScheduler;

  constructor(scope: Construct, id: string, props: SousStackProps = {}) {
    super(scope, id, props);
    this.scheduler = new SousScheduler(this, "Scheduler", props.scheduler ?? {});
  }
}
