// A snapshot of every IAM policy and role trust of the default deployment, so any permission
// change shows up in review. Asset hashes are replaced; logical ids are stable (path-derived).
import { Stack } from "aws-cdk-lib";

import { resourcesOfType, synthSous } from "./synth";

const stripHashes = (value: unknown): unknown =>
  JSON.parse(JSON.stringify(value).replace(/[0-9a-f]{64}/g, "<asset hash>")) as unknown;

test("IAM policies and roles", () => {
  const { stack, template } = synthSous();
  const policies = Object.fromEntries(
    ["AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role"].flatMap((type) =>
      Object.entries(resourcesOfType(template, type)).map(([id, resource]) => {
        const { PolicyDocument, AssumeRolePolicyDocument, ManagedPolicyArns, Roles } = resource.Properties ?? {};
        return [id, stripHashes({ PolicyDocument, AssumeRolePolicyDocument, ManagedPolicyArns, Roles })];
      }),
    ),
  );
  expect(Stack.of(stack).resolve(policies)).toMatchSnapshot();
});
