// The `sous` command line (commander). Each command is a thin layer over lib/.
import { Command, InvalidArgumentError } from "commander";
import { emulatorEnvironment, startEmulators } from "../local/emulators";
import { runLocal } from "./local";

export function buildProgram(): Command {
  const program = new Command("sous")
    .description("Sous: Bistro's sharded batch scheduler as a serverless AWS service")
    .showHelpAfterError();

  program
    .command("emulators")
    .description("start DynamoDB Local and fauxqs (SQS + S3) on 127.0.0.1 and print their endpoints until Ctrl-C")
    .option("--json", "print the endpoints as one JSON line")
    .action(async (options: { json?: boolean }) => {
      const emulators = await startEmulators();
      const env = emulatorEnvironment(emulators.endpoints);
      if (options.json) {
        console.log(JSON.stringify(emulators.endpoints));
      } else {
        console.log("Emulators running (Ctrl-C stops them). To point the AWS SDK or CLI at them:");
        for (const [name, value] of Object.entries(env)) console.log(`  export ${name}=${value}`);
      }
      await new Promise<void>((resolve) => {
        for (const signal of ["SIGINT", "SIGTERM"] as const)
          process.once(signal, () => {
            resolve();
          });
      });
      await emulators.stop();
    });

  program
    .command("local")
    .description("run a whole Sous deployment on this machine (default: Bistro's first-run demo)")
    .option("--config <file>", "Bistro config file to store (default: the demo's, unless --worker-command is given)")
    .option("--worker-command <path>", "the task command workers run (default: Bistro's demo task)")
    .option("--workers <n>", "number of workers", (v) => positiveInt(v, "--workers"), 2)
    .option("--port <port>", "API port on 127.0.0.1 (0: any free port)", (v) => portNumber(v), 6790)
    .option("--data-dir <dir>", "where task working directories go (default: a new temporary directory)")
    .option("--name <name>", "prefix of the table, queues and bucket", "sous-local")
    .option("--exit-when-done", "stop once every runnable task has finished")
    .option("--json", "print worker events as JSON lines")
    .action(async (options: Parameters<typeof runLocal>[0]) => {
      await runLocal(options, (line) => {
        console.log(line);
      });
    });

  return program;
}

function portNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError(`--port takes 0 to 65535, not ${value}`);
  return n;
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} takes a whole number >= 1, not ${value}`);
  return n;
}

if (require.main === module || process.argv[1]?.endsWith("bin/sous.js")) {
  // Node 20 is supported here; the SDK's notice about its future Node 22 requirement is noise for users.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  buildProgram()
    .parseAsync(process.argv)
    .catch((error: unknown) => {
      console.error(`sous: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    });
}
