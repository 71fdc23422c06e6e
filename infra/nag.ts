// cdk-nag acknowledgments, spelled the way the AwsSolutions pack reports findings. Each one is
// placed on the narrowest construct that causes it, with the reason it is acceptable.
import { Stack, Validations } from "aws-cdk-lib";
import type { IConstruct } from "constructs";

/** Acknowledges findings on `scope` and everything under it. */
export function acknowledge(scope: IConstruct, reason: string, ...findings: string[]): void {
  Validations.of(scope).acknowledge(...findings.map((id) => ({ id, reason })));
}

/**
 * The id of an IAM5 finding for a wildcard resource. cdk-nag flattens the resolved value: a Ref
 * becomes `<LogicalId>`, a GetAtt `<LogicalId.Attr>`, Fn::Join joins, Fn::Sub's `${X}` is `<X>`.
 */
export function wildcardResourceFinding(scope: IConstruct, resource: string): string {
  return `AwsSolutions-IAM5[Resource::${flatten(Stack.of(scope).resolve(resource))}]`;
}

function flatten(node: unknown): string {
  if (node === undefined) return "";
  if (typeof node === "string") return node.replace(/\$\{/g, "<").replace(/\}/g, ">");
  if (typeof node === "object" && node !== null) {
    const fn = node as Record<string, unknown>;
    if (Array.isArray(fn["Fn::Join"])) {
      const [delimiter, items] = fn["Fn::Join"] as [string, unknown[]];
      return items.map(flatten).join(delimiter);
    }
    if (fn["Fn::Sub"] !== undefined) return flatten(fn["Fn::Sub"]);
    if (Array.isArray(fn["Fn::GetAtt"])) {
      const [resource, attribute] = fn["Fn::GetAtt"] as [unknown, unknown];
      return `<${flatten(resource)}.${flatten(attribute)}>`;
    }
    if (fn["Fn::ImportValue"] !== undefined) return flatten(fn["Fn::ImportValue"]);
    if (fn.Ref !== undefined) return `<${flatten(fn.Ref)}>`;
  }
  return JSON.stringify(node);
}
