// One synth that really bundles (local esbuild, no Docker): each function's asset is a minified
// CJS bundle under 250 KB (bench:bundle's goal) with a source map, leaves the AWS SDK to the
// runtime, loads in Node with its `handler` exported and only the SDK packages it always needs,
// builds no zod schema and reads no source map while it loads (both wait for first use: the
// cold-start goal of docs/adr/0003), maps its first stack trace to the sources, and carries re2js
// beside the bundle for its first pattern.
import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import * as path from "node:path";

import { Stage } from "aws-cdk-lib";
import type { CfnFunction } from "aws-cdk-lib/aws-lambda";

import { ON_DEMAND_MODULES, REPO_ROOT } from "../../infra/lambda";
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

test.each(names)("%s: a minified bundle under 250 KB with a source map", (name) => {
  const dir = bundleDirectory(name);
  const bundle = path.join(dir, "index.js");
  expect(existsSync(bundle)).toBe(true);
  expect(existsSync(`${bundle}.map`)).toBe(true);
  expect(statSync(bundle).size).toBeLessThan(250 * 1024);
});

/** The SDK packages each function loads at require; the others wait for their first use. */
const SDK_AT_LOAD: Record<(typeof names)[number], string[]> = {
  roundFunction: ["@aws-sdk/client-dynamodb", "@aws-sdk/client-sqs", "@aws-sdk/lib-dynamodb"],
  ingestFunction: ["@aws-sdk/client-dynamodb", "@aws-sdk/client-lambda", "@aws-sdk/lib-dynamodb"],
  apiFunction: ["@aws-sdk/client-dynamodb", "@aws-sdk/client-lambda", "@aws-sdk/client-sqs", "@aws-sdk/lib-dynamodb"],
};

test.each(names)("%s: the on-demand packages ship beside the bundle and work from there", (name) => {
  const dir = bundleDirectory(name);
  for (const module of ON_DEMAND_MODULES) {
    const file = path.join(dir, "node_modules", module, "index.js");
    expect(existsSync(file)).toBe(true);
    // Resolved from the asset alone (no NODE_PATH), as on Lambda.
    const script = `const { RE2JS } = require(${JSON.stringify(module)}); console.log(require.resolve(${JSON.stringify(module)}), RE2JS.compile("a+b").test("xaab"));`;
    const output = execFileSync(process.execPath, ["-e", script], { cwd: dir, encoding: "utf8", env: {} });
    expect(output.trim()).toBe(`${file} true`);
  }
});

test.each(names)("%s: loads in Node, exports handler, and requires the SDK from the runtime", (name) => {
  const bundle = path.join(bundleDirectory(name), "index.js");
  const script = `
    const seen = new Set();
    const Module = require("node:module");
    const load = Module._load;
    Module._load = function (request, parent, ...rest) {
      if (parent && parent.filename === ${JSON.stringify(bundle)} && !request.startsWith("node:")) seen.add(request);
      return load.call(this, request, parent, ...rest);
    };
    const m = require(${JSON.stringify(bundle)});
    console.log(JSON.stringify({ handler: typeof m.handler, sdk: [...seen].sort() }));`;
  const output = execFileSync(process.execPath, ["-e", script], {
    // The Lambda runtime ships the SDK; here the project's copy stands in for it.
    env: { ...process.env, NODE_PATH: path.join(REPO_ROOT, "node_modules"), AWS_REGION: "us-east-1" },
    encoding: "utf8",
  });
  const result = JSON.parse(output.trim().split("\n").at(-1) ?? "{}") as { handler: string; sdk: string[] };
  expect(result.handler).toBe("function");
  // Exactly these: no other SDK client, and no re2js, until first used.
  expect(result.sdk).toEqual(SDK_AT_LOAD[name]);
});

/** An entry point of each function that fails, inside the bundle, when TABLE_NAME is not set. */
const FAILING_CALL: Record<(typeof names)[number], string> = {
  roundFunction: `m.roundHandler({}, { awsRequestId: "probe" })`,
  ingestFunction: `m.statusHandler({ Records: [] })`,
  apiFunction: `m.apiHandler({}, {})`,
};

test.each(names)("%s: builds no schema and reads no map at require; maps its first stack trace", (name) => {
  const bundle = path.join(bundleDirectory(name), "index.js");
  // zod calls `__zod_globalConfig.postProcessor` on every schema it builds (its hook for
  // zod/compile); z.lazy wrappers are empty shells, their schema is built on first parse.
  const script = `
    const built = [];
    globalThis.__zod_globalConfig = { postProcessor: (schema) => { if (schema._zod.def.type !== "lazy") built.push(schema._zod.def.type); } };
    const fs = require("node:fs");
    const readFileSync = fs.readFileSync;
    const maps = [];
    fs.readFileSync = function (file, ...rest) {
      if (String(file).endsWith(".map")) maps.push(String(file));
      return readFileSync.call(this, file, ...rest);
    };
    const m = require(${JSON.stringify(bundle)});
    const atRequire = { built: [...built], maps: [...maps] };
    // The hook is live in this zod version: a schema built now is seen.
    require("zod/mini").string();
    ${FAILING_CALL[name]}.then(
      () => console.log(JSON.stringify({ error: "no error" })),
      (error) => console.log(JSON.stringify({ atRequire, hookSeen: built.length > atRequire.built.length, stack: error.stack, maps })),
    );`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_PATH: path.join(REPO_ROOT, "node_modules"),
    AWS_REGION: "us-east-1",
  };
  delete env.TABLE_NAME;
  delete env.NODE_OPTIONS;
  const output = execFileSync(process.execPath, ["-e", script], { env, encoding: "utf8" });
  const result = JSON.parse(output.trim().split("\n").at(-1) ?? "{}") as {
    atRequire: { built: string[]; maps: string[] };
    hookSeen: boolean;
    stack: string;
    maps: string[];
  };
  expect(result.atRequire).toEqual({ built: [], maps: [] });
  expect(result.hookSeen).toBe(true);
  // The first trace read the map once and names the TypeScript source of the throw.
  expect(result.maps).toEqual([`${bundle}.map`]);
  expect(result.stack.split("\n").slice(0, 2)).toEqual([
    "Error: Environment variable TABLE_NAME is not set; the stack sets it for every Sous function.",
    expect.stringMatching(/^ {4}at requireEnv \(functions\/env\.ts:\d+:\d+\)$/) as unknown,
  ]);
});
