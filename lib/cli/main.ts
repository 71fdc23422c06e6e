// The `sous` command line (commander). Each command is a thin layer over lib/.
import { Command } from "commander";
import { emulatorEnvironment, startEmulators } from "../local/emulators";

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
        for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => resolve());
      });
      await emulators.stop();
    });

  return program;
}

if (require.main === module || process.argv[1]?.endsWith("bin/sous.js")) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((error: unknown) => {
      console.error(`sous: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    });
}
