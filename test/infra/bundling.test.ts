// One synth that really bundles (local esbuild, no Docker): each function's asset is a minified
// CJS bundle under 1 MB with a source map, leaves the AWS SDK to the runtime, and loads in Node
// with its `handler` exported.
import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import * as path from "node:path";

import { Stage } from "aws-cdk-lib";
import type { CfnFunction } from "aws-cdk-lib/aws-lambda";

import { REPO_ROOT } from "../../infra/lambda";
import { synthSous, type Synthesized } from "./synth";

let synthesized: Synthesized;
beforeAll(() => {
  synthesized = synthSous({ workers: false }, { bundle: true });
});

const names = ["roundFunction", "ingestFunction", "apiFunction"] as const;

function bundleDirectory(name: (typeof names)[number]): string {
  const { stack, template } = synthesized;
  const logicalId = stack.getLogicalId(stack.scheduler[name].fn.node.defaultChild as CfnFunction);
  const resources = template.toJSON().Resources as Record<string, { Properties: { Code: { S3Key: string } } }>;
  const hash = resources[logicalId]?.Properties.Code.S3Key.replace(/\.zip$/, "");
  return path.join(Stage.of(stack)?.outdir ?? "", `asset.${hash ?? "missing"}`);
}

test.each(names)("%s: a minified bundle under 1 MB with a source map", (name) => {
  const dir = bundleDirectory(name);
  const bundle = path.join(dir, "index.js");
  expect(existsSync(bundle)).toBe(true);
  expect(existsSync(`${bundle}.map`)).toBe(true);
  expect(statSync(bundle).size).toBeLessThan(1024 * 1024);
});

test.each(names)("%s: loads in Node, exports handler, and requires the SDK from the runtime", (name) => {
  const bundle = path.join(bundleDirectory(name), "index.js");
  const script = `
    const seen = new Set();
    const Module = require("node:module");
    const load = Module._load;
    Module._load = function (request, ...rest) { if (request.startsWith("@aws-sdk/")) seen.add(request); return load.call(this, request, ...rest); };
    const m = require(${JSON.stringify(bundle)});
    console.log(JSON.stringify({ handler: typeof m.handler, sdk: [...seen].sort() }));`;
  const output = execFileSync(process.execPath, ["-e", script], {
    // The Lambda runtime ships the SDK; here the project's copy stands in for it.
    env: { ...process.env, NODE_PATH: path.join(REPO_ROOT, "node_modules"), AWS_REGION: "us-east-1" },
    encoding: "utf8",
  });
  const result = JSON.parse(output.trim().split("\n").at(-1) ?? "{}") as { handler: string; sdk: string[] };
  expect(result.handler).toBe("function");
  expect(result.sdk).toEqual(expect.arrayContaining(["@aws-sdk/client-dynamodb"]));
});
