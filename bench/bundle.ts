// Bundle benchmark (`npm run bench:bundle`): synthesizes the default stack (without bundling) and
// prints the template's size, then bundles each Lambda entry with esbuild using the settings
// NodejsFunction uses (infra/lambda.ts) and prints each bundle's size, its gzip size, its largest
// inputs, and the median time for a fresh `node` to require it (the module load part of a cold
// start; the SDK comes from this project's node_modules, as the runtime's copy would on Lambda)
// against requiring alone the SDK packages the bundle loads at require (the baseline, measured in
// the same run, interleaved). SDK packages and on-demand modules (infra/lambda.ts) that load only
// on first use are listed apart. Goals per function: < 250 KB and a require at most 1.2x the SDK
// baseline (printed, met or not, in a summary line per function). Exits 1 only when a bundle is
// over 1 MB, the hard limit.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import * as path from "node:path";
import { gzipSync } from "node:zlib";

import { App } from "aws-cdk-lib";
import { build, type Metafile } from "esbuild";

import {
  FUNCTION_ENTRIES,
  LAMBDA_BASE_ENVIRONMENT,
  LAMBDA_BUNDLING,
  ON_DEMAND_MODULES,
  onDemandBuildOptions,
  REPO_ROOT,
  type FunctionName,
} from "../infra/lambda";
import { SousStack } from "../infra/sous-stack";

const LIMIT_BYTES = 1024 * 1024;
const GOAL_BYTES = 250 * 1024;
const GOAL_RATIO = 1.2;
const IMPORT_RUNS = 11;

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

function templateBytes(outdir: string): number {
  const app = new App({ outdir, context: { "aws:cdk:bundling-stacks": [] } });
  const stack = new SousStack(app, "Sous");
  const assembly = app.synth();
  return statSync(path.join(assembly.directory, stack.templateFile)).size;
}

async function bundle(name: FunctionName, outdir: string): Promise<{ file: string; metafile: Metafile }> {
  const file = path.join(outdir, name, "index.js");
  const result = await build({
    entryPoints: [path.join(REPO_ROOT, FUNCTION_ENTRIES[name])],
    outfile: file,
    bundle: true,
    platform: "node",
    format: LAMBDA_BUNDLING.format,
    target: LAMBDA_BUNDLING.target,
    minify: LAMBDA_BUNDLING.minify,
    sourcemap: LAMBDA_BUNDLING.sourceMap,
    sourcesContent: LAMBDA_BUNDLING.sourcesContent,
    external: [...LAMBDA_BUNDLING.externalModules],
    metafile: true,
    logLevel: "silent",
  });
  return { file, metafile: result.metafile };
}

/**
 * Milliseconds a fresh Node process spends requiring these modules, measured inside that process,
 * and which of `watch` (package names) that loaded.
 */
function requireMs(modules: string[], watch: readonly string[] = []): { ms: number; loaded: string[] } {
  const script = `const t = process.hrtime.bigint(); for (const m of ${JSON.stringify(modules)}) require(m);
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    const files = Object.keys(require.cache);
    const loaded = ${JSON.stringify(watch)}.filter((p) => files.some((f) => f.includes("/node_modules/" + p + "/")));
    console.log(JSON.stringify({ ms, loaded }));`;
  const output = execFileSync(process.execPath, ["-e", script], {
    // The environment the functions get (infra/lambda.ts), NODE_OPTIONS included, for both sides.
    env: {
      ...process.env,
      NODE_OPTIONS: LAMBDA_BASE_ENVIRONMENT.NODE_OPTIONS ?? "",
      ...LAMBDA_BASE_ENVIRONMENT,
      NODE_PATH: path.join(REPO_ROOT, "node_modules"),
      AWS_REGION: "us-east-1",
    },
    encoding: "utf8",
  });
  return JSON.parse(output.trim().split("\n").at(-1) ?? "{}") as { ms: number; loaded: string[] };
}

/** The external modules the bundle may require (at load or on first use). */
function externalModules(metafile: Metafile): string[] {
  const imports = Object.entries(metafile.outputs).find(([file]) => file.endsWith(".js"))?.[1].imports ?? [];
  // Node's own modules are always there; only packages count.
  return [...new Set(imports.filter((i) => i.external && !i.path.startsWith("node:")).map((i) => i.path))].sort();
}

/** Size of each on-demand module as the Lambda asset holds it (built by infra/lambda.ts's hook). */
async function onDemandSizes(outdir: string): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  for (const name of ON_DEMAND_MODULES) {
    const options = onDemandBuildOptions(name, outdir);
    await build({ ...options, entryPoints: [...options.entryPoints], logLevel: "silent" });
    sizes.set(name, statSync(options.outfile).size);
  }
  return sizes;
}

/** The inputs that take the most room in the bundle, grouped by package. */
function largestPackages(metafile: Metafile, count: number): string {
  const inputs = Object.entries(metafile.outputs).find(([file]) => file.endsWith(".js"))?.[1].inputs ?? {};
  const byPackage = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(inputs)) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
    const key = match?.[1] ?? input.split("/").slice(0, 2).join("/");
    byPackage.set(key, (byPackage.get(key) ?? 0) + bytesInOutput);
  }
  return [...byPackage.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, bytes]) => `${name} ${kb(bytes)}`)
    .join(", ");
}

async function main() {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const work = mkdtempSync(path.join(tmpdir(), "sous-bench-bundle-"));
  try {
    const template = templateBytes(path.join(work, "cdk.out"));
    console.log(`template Sous.template.json: ${kb(template)} (CloudFormation's limit is 1 MB via S3)`);
    const beside = await onDemandSizes(path.join(work, "on-demand"));
    console.log(
      `bundles (esbuild ${LAMBDA_BUNDLING.target}, ${LAMBDA_BUNDLING.format}, minified, ` +
        `external: ${LAMBDA_BUNDLING.externalModules.join(", ")}), and the time a fresh node spends requiring each ` +
        `against the SDK packages it loads at require, alone (${IMPORT_RUNS} runs each, interleaved):`,
    );
    console.log(
      `  shipped beside each bundle, required on first use: ` +
        [...beside].map(([name, bytes]) => `${name} ${kb(bytes)}`).join(", "),
    );
    let over = false;
    const summary: string[] = [];
    for (const name of Object.keys(FUNCTION_ENTRIES) as FunctionName[]) {
      const { file, metafile } = await bundle(name, work);
      const bytes = statSync(file).size;
      const gzip = gzipSync(readFileSync(file)).length;
      const externals = externalModules(metafile);
      // Which externals the bundle loads at require; the rest wait for first use.
      const sdk = requireMs([file], externals).loaded;
      const later = externals.filter((name) => !sdk.includes(name));
      // Interleaved, each side first every other run, so that load from other processes on the
      // machine hits both alike.
      const times: number[] = [];
      const sdkTimes: number[] = [];
      const loadBefore = loadavg()[0] ?? NaN;
      for (let run = 0; run < IMPORT_RUNS; run++) {
        if (run % 2 === 1) sdkTimes.push(requireMs(sdk).ms);
        times.push(requireMs([file]).ms);
        if (run % 2 === 0) sdkTimes.push(requireMs(sdk).ms);
      }
      const load = `load average ${loadBefore.toFixed(1)} -> ${(loadavg()[0] ?? NaN).toFixed(1)}`;
      over ||= bytes >= LIMIT_BYTES;
      const ratio = median(times) / median(sdkTimes);
      summary.push(
        `bundle ${name}: ${kb(bytes)} (goal < ${kb(GOAL_BYTES)}: ${bytes < GOAL_BYTES ? "met" : "NOT met"}), ` +
          `require ${ratio.toFixed(2)}x the SDK baseline (goal <= ${GOAL_RATIO}: ${ratio <= GOAL_RATIO ? "met" : "NOT met"})`,
      );
      console.log(
        `  ${name.padEnd(15)} ${kb(bytes).padStart(10)}  gzip ${kb(gzip).padStart(9)}  ` +
          `require median ${median(times).toFixed(1)} ms (min ${Math.min(...times).toFixed(1)}), ` +
          `SDK baseline ${median(sdkTimes).toFixed(1)} ms (ratio ${ratio.toFixed(2)}, ${load})` +
          (bytes >= LIMIT_BYTES ? "  OVER 1 MB" : ""),
      );
      console.log(`    largest inputs: ${largestPackages(metafile, 5)}`);
      console.log(`    loaded at require (the baseline): ${sdk.join(", ")}`);
      console.log(`    loaded on first use: ${later.join(", ") || "none"}`);
    }
    for (const line of summary) console.log(line);
    if (over) process.exitCode = 1;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

void main();
