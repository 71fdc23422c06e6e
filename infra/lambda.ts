// The Lambda functions' shared shape: one NodejsFunction factory with the runtime, architecture
// and esbuild settings every Sous function uses (bench/bundle.ts bundles with the same settings),
// a log group per function and a role per function that may write only to that log group.
import * as path from "node:path";
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat, type BundlingOptions } from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";

import { acknowledge } from "./nag";

/** The repository root: entries, the lock file and the worker's Dockerfile are found from here. */
export const REPO_ROOT = path.resolve(__dirname, "..");

/** The Lambda entry points, by the construct id of their function. */
export const FUNCTION_ENTRIES = {
  SchedulerRound: "functions/scheduler-round.ts",
  StatusIngest: "functions/status-ingest.ts",
  Api: "functions/api.ts",
} as const;
export type FunctionName = keyof typeof FUNCTION_ENTRIES;

/** esbuild's target; the runtime below must match it. */
export const NODE_TARGET = "node22";
export const LAMBDA_RUNTIME = lambda.Runtime.NODEJS_22_X;

/**
 * Packages kept out of index.js and shipped beside it, minified, as `node_modules/<name>/index.js`
 * in the function's asset: the code requires each on first use (re2js when a user pattern is
 * first compiled), so a cold start neither reads nor parses it.
 */
export const ON_DEMAND_MODULES = ["re2js"] as const;

/** esbuild options that write one on-demand package into a function's asset directory. */
export function onDemandBuildOptions(name: (typeof ON_DEMAND_MODULES)[number], outputDir: string) {
  return {
    entryPoints: [require.resolve(name, { paths: [REPO_ROOT] })],
    outfile: path.join(outputDir, "node_modules", name, "index.js"),
    bundle: true,
    platform: "node",
    format: "cjs",
    target: NODE_TARGET,
    minify: true,
    legalComments: "none",
    logLevel: "warning",
  } as const;
}

const shellQuote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;

/**
 * Local esbuild (the devDependency), never Docker. The SDK v3 ships in the Node 22 runtime, so it
 * stays out of the bundle (not pinned to this project's SDK version: the runtime's own is newer
 * and is what AWS patches; the code uses only long-stable commands, and bench:bundle measures
 * cold starts against the SDK alone for that reason). Stack traces are mapped to the sources by
 * functions/stack-traces.ts on first use, not by Node's `--enable-source-maps`, which reads the map
 * and scans the whole bundle at load. The on-demand packages are built by a hook with the same
 * esbuild.
 */
export const LAMBDA_BUNDLING = {
  format: OutputFormat.CJS,
  target: NODE_TARGET,
  minify: true,
  sourceMap: true,
  // Traces need only the mappings (file, line, column): without the sources' text the map is a
  // quarter of the size, and quicker to read on the first trace. The sources are in the repository.
  sourcesContent: false,
  externalModules: ["@aws-sdk/*", ...ON_DEMAND_MODULES],
  commandHooks: {
    beforeBundling: () => [],
    beforeInstall: () => [],
    afterBundling: (_inputDir: string, outputDir: string) =>
      ON_DEMAND_MODULES.map(
        (name) =>
          `node -e ${shellQuote(`require("esbuild").buildSync(${JSON.stringify(onDemandBuildOptions(name, outputDir))})`)}`,
      ),
  },
} as const satisfies BundlingOptions;

/**
 * Environment every Sous function gets besides its own settings; bench:bundle loads the bundles
 * with exactly this (no NODE_OPTIONS: see functions/stack-traces.ts).
 */
export const LAMBDA_BASE_ENVIRONMENT: Readonly<Record<string, string>> = {
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
};

export interface SousFunctionProps {
  entry: FunctionName;
  description: string;
  environment: Record<string, string>;
  memorySize: number;
  timeout: Duration;
  logRetention: logs.RetentionDays;
  removalPolicy: RemovalPolicy;
  tracing: boolean;
  reservedConcurrentExecutions?: number;
}

/** A NodejsFunction with its own log group and a role that can write only to that log group. */
export class SousFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: SousFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, "Logs", {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    // Not the AWSLambdaBasicExecutionRole managed policy: that one may write to every log group.
    this.role = new iam.Role(this, "Role", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: `Sous ${id} function`,
    });
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    this.fn = new NodejsFunction(this, "Function", {
      entry: path.join(REPO_ROOT, FUNCTION_ENTRIES[props.entry]),
      handler: "handler",
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, "package-lock.json"),
      runtime: LAMBDA_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      bundling: LAMBDA_BUNDLING,
      description: props.description,
      memorySize: props.memorySize,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      tracing: props.tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
      environment: {
        ...props.environment,
        ...LAMBDA_BASE_ENVIRONMENT,
      },
      ...(props.reservedConcurrentExecutions === undefined
        ? {}
        : { reservedConcurrentExecutions: props.reservedConcurrentExecutions }),
    });
    acknowledge(
      this,
      "Node 22 is the runtime the bundles target (esbuild node22) and the code is tested on; moving to a newer " +
        "runtime is a deliberate upgrade, not a synth-time default.",
      "AwsSolutions-L1",
    );
    if (props.tracing) {
      acknowledge(
        this.role,
        "X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions (Lambda adds them " +
          "for active tracing).",
        "AwsSolutions-IAM5[Resource::*]",
      );
    }
  }
}
