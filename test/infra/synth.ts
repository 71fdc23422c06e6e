// Synthesizing Sous for infra tests: a SousStack in a fresh App, by default without esbuild
// bundling (`aws:cdk:bundling-stacks: []`; bundling.test.ts bundles for real), plus the
// cdk-nag AwsSolutions report of the same stack.
import { App, type PolicyValidationPluginReport } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";

import type { SousSchedulerProps } from "../../infra/sous-scheduler";
import { SousStack } from "../../infra/sous-stack";

export interface Synthesized {
  stack: SousStack;
  template: Template;
}

export function synthSous(scheduler: SousSchedulerProps = {}, options: { bundle?: boolean } = {}): Synthesized {
  const app = new App(options.bundle ? {} : { context: { "aws:cdk:bundling-stacks": [] } });
  const stack = new SousStack(app, "Sous", { scheduler });
  return { stack, template: Template.fromStack(stack) };
}

export function nagReport(stack: SousStack): PolicyValidationPluginReport {
  return new AwsSolutionsChecks(stack.node.root).validateScope(stack);
}

/** Findings as "RuleId at construct/path" lines, so a failing assertion names them. */
export function nagFindings(report: PolicyValidationPluginReport): string[] {
  return report.violations.flatMap((violation) =>
    violation.violatingResources.map((resource) => `${violation.ruleName} at ${resource.constructPath ?? "?"}`),
  );
}

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

/** Every resource of a type, by logical id. */
export function resourcesOfType(template: Template, type: string): Resources {
  return template.findResources(type) as Resources;
}

export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Sid?: string;
}

/** Every IAM statement of inline and managed policies, with the policy's logical id. */
export function iamStatements(template: Template): { policy: string; statement: Statement }[] {
  const policies = {
    ...resourcesOfType(template, "AWS::IAM::Policy"),
    ...resourcesOfType(template, "AWS::IAM::ManagedPolicy"),
  };
  return Object.entries(policies).flatMap(([policy, resource]) => {
    const document = resource.Properties?.PolicyDocument as { Statement: Statement[] };
    return document.Statement.map((statement) => ({ policy, statement }));
  });
}

export const asList = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);
