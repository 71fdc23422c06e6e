// Starts the embedded AWS emulators for tests and `sous local`: DynamoDB Local and fauxqs
// (SQS + S3), on free 127.0.0.1 ports, in a host process (emulator-host.ts) that stops them
// when this process stops them, exits, or dies.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { EMULATOR_ERROR_PREFIX, EMULATOR_READY_PREFIX, type EmulatorEndpoints } from "./emulator-protocol";

export type { EmulatorEndpoints } from "./emulator-protocol";

export interface RunningEmulators {
  readonly endpoints: EmulatorEndpoints;
  /** Process id of the host process (it owns the JVM). */
  readonly pid: number;
  /** Stops both emulators and waits until the host process has exited. */
  stop(): Promise<void>;
}

export interface StartEmulatorsOptions {
  /** Start DynamoDB Local (default true). */
  dynamodb?: boolean;
  /** Start fauxqs for SQS and S3 (default true). */
  sqsAndS3?: boolean;
  /** Give up when both are not answering after this long (default $SOUS_EMULATOR_TIMEOUT_MS, else 30 s). */
  timeoutMs?: number;
}

/** The argv token marking the emulator processes of one run (`SOUS_RUN_ID`). */
export function runMark(runId: string): string {
  return `--sous-run=${runId}`;
}

export class EmulatorStartError extends Error {
  override readonly name = "EmulatorStartError";
}

/** The environment an AWS SDK client needs to talk to the emulators (standard variable names). */
export function emulatorEnvironment(endpoints: EmulatorEndpoints): Record<string, string> {
  return {
    ...(endpoints.dynamodb ? { AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb } : {}),
    ...(endpoints.sqs ? { AWS_ENDPOINT_URL_SQS: endpoints.sqs, AWS_ENDPOINT_URL_S3: endpoints.s3 } : {}),
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
  };
}

export async function startEmulators(options: StartEmulatorsOptions = {}): Promise<RunningEmulators> {
  // A busy machine can take longer to start a JVM: SOUS_EMULATOR_TIMEOUT_MS raises the bound.
  const timeoutMs = options.timeoutMs ?? (Number(process.env.SOUS_EMULATOR_TIMEOUT_MS) || 30000);
  const args = [
    ...(options.dynamodb === false ? ["--no-dynamodb"] : []),
    ...(options.sqsAndS3 === false ? ["--no-fauxqs"] : []),
    // A run (CI) marks its emulators, so it can check that none of its own outlived it.
    ...(process.env.SOUS_RUN_ID ? [runMark(process.env.SOUS_RUN_ID)] : []),
  ];
  // The host is TypeScript; run it through tsx's loader so it works the same from Jest, tsx and node.
  const hostScript = join(__dirname, "emulator-host.ts");
  if (!existsSync(hostScript)) {
    // The installed npm package is the worker and the API client; the emulators are development tools.
    throw new EmulatorStartError(
      "The embedded emulators come with a checkout of the Sous repository (after `npm ci`), not with the " +
        "installed package: run `sous local` from a checkout, or point AWS_ENDPOINT_URL_* at LocalStack.",
    );
  }
  const host = spawn(process.execPath, ["--import", "tsx", hostScript, ...args], {
    stdio: ["pipe", "pipe", "inherit"],
    env: { ...process.env, SOUS_EMULATOR_TIMEOUT_MS: String(timeoutMs) },
  });
  const exited = new Promise<void>((resolve) => {
    host.once("exit", () => {
      resolve();
    });
  });
  // If this process exits without calling stop(), closing the pipe makes the host clean up.
  const closeOnExit = (): void => {
    host.stdin.end();
  };
  process.once("exit", closeOnExit);

  const endpoints = await new Promise<EmulatorEndpoints>((resolve, reject) => {
    const timer = setTimeout(() => {
      host.kill("SIGTERM");
      reject(new EmulatorStartError(`The emulators did not start within ${timeoutMs} ms.`));
    }, timeoutMs + 5000);
    const lines = createInterface({ input: host.stdout });
    lines.on("line", (line) => {
      if (line.startsWith(EMULATOR_READY_PREFIX)) {
        clearTimeout(timer);
        resolve(JSON.parse(line.slice(EMULATOR_READY_PREFIX.length)) as EmulatorEndpoints);
      } else if (line.startsWith(EMULATOR_ERROR_PREFIX)) {
        clearTimeout(timer);
        const { message } = JSON.parse(line.slice(EMULATOR_ERROR_PREFIX.length)) as { message: string };
        reject(new EmulatorStartError(message));
      }
    });
    host.once("exit", (code) => {
      clearTimeout(timer);
      reject(new EmulatorStartError(`The emulator host exited (code ${code}) before the emulators were ready.`));
    });
  });

  let stopped: Promise<void> | undefined;
  return {
    endpoints,
    pid: host.pid ?? -1,
    stop() {
      stopped ??= (async () => {
        process.removeListener("exit", closeOnExit);
        if (host.exitCode === null && host.signalCode === null) host.kill("SIGTERM");
        await exited;
      })();
      return stopped;
    },
  };
}
