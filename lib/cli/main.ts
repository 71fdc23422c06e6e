// The `sous` command line (commander). Each command is a thin layer over lib/.
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { emulatorEnvironment, startEmulators } from "../local/emulators";
import { MAX_SCRIPT_TIMEOUT_SEC } from "../nodes";
import { ApiClient, resolveApiUrl } from "./client";
import {
  applyCommand,
  forgiveCommand,
  jobsCommand,
  killCommand,
  logsCommand,
  nodesCommand,
  tasksCommand,
  workersCommand,
  type CommandContext,
} from "./commands";
import { EXIT, processIo, reportError, type CliIo } from "./io";
import { runLocal } from "./local";
import { nodesPushCommand, type NodesPushOptions } from "./nodes-push";
import { uiCommand } from "./ui";
import { parseResources, workerCommand } from "./worker";

/**
 * The `sous` program. `io` carries output, the exit code and interrupts, so tests run commands
 * in-process; usage errors throw CommanderError (exitOverride) instead of exiting.
 */
export function buildProgram(io: CliIo = processIo): Command {
  const program = new Command("sous")
    .description("Sous: Bistro's sharded batch scheduler as a serverless AWS service")
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (text) => {
        io.out(text.replace(/\n$/, ""));
      },
      writeErr: (text) => {
        io.err(text.replace(/\n$/, ""));
      },
    })
    .option("--api <url>", "the Sous API (default: $SOUS_API, else sous local's http://127.0.0.1:6790)");

  /** Runs an API command: builds the client from --api, maps any error to its message and exit code. */
  const withApi =
    <A extends unknown[]>(run: (ctx: CommandContext, ...args: A) => Promise<unknown>) =>
    async (...args: A) => {
      // Commander passes the Command itself last.
      const command = args.at(-1) as Command;
      try {
        const { api } = command.optsWithGlobals<{ api?: string }>();
        const client = new ApiClient({
          baseUrl: resolveApiUrl(api, io.env),
          env: io.env,
          ...(io.fetch ? { fetch: io.fetch } : {}),
        });
        await run({ client, io }, ...args);
      } catch (error) {
        reportError(io, error);
      }
    };

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
    .option(
      "--workers <n>",
      "number of workers (0: only workers started with `sous worker`)",
      (v) => wholeNumber(v, "--workers"),
      2,
    )
    .option("--heartbeat-grace-period <sec>", "Bistro's: how late a heartbeat may be (default 60)", (v) =>
      positiveInt(v, "--heartbeat-grace-period"),
    )
    .option(
      "--lose-unhealthy-worker-after <sec>",
      "Bistro's: silence after which a worker is lost (default 500)",
      (v) => positiveInt(v, "--lose-unhealthy-worker-after"),
    )
    .option("--port <port>", "API port on 127.0.0.1 (0: any free port)", (v) => portNumber(v), 6790)
    .option("--ui <port>", "web UI port on 127.0.0.1 (0: any free port)", (v) => portNumber(v, "--ui"), 6791)
    .option("--no-ui", "do not serve the web UI")
    .option("--data-dir <dir>", "where task working directories go (default: a new temporary directory)")
    .option("--name <name>", "prefix of the table, queues and bucket", "sous-local")
    .option("--exit-when-done", "stop once every runnable task has finished")
    .option("--json", "print worker events as JSON lines")
    .option(
      "--config-update-ms <ms>",
      "how often --config FILE is read again; edits apply like PUT /config (Bistro's --config_update_ms)",
      (v) => positiveInt(v, "--config-update-ms"),
      10_000,
    )
    .option(
      "--nodes-update-ms <ms>",
      "period of node source refreshes (Bistro's --nodes_update_ms)",
      (v) => positiveInt(v, "--nodes-update-ms"),
      300_000,
    )
    .option(
      "--nodes-retry-ms <ms>",
      "wait before retrying a failed node refresh (Bistro's --nodes_retry_ms)",
      (v) => positiveInt(v, "--nodes-retry-ms"),
      30_000,
    )
    .action(async (options: Parameters<typeof runLocal>[0]) => {
      await runLocal(options, (line) => {
        console.log(line);
      });
    });

  program
    .command("ui")
    .description("serve the web UI on 127.0.0.1 for the API (--api), signing each request with your AWS credentials")
    .option("--port <port>", "UI port on 127.0.0.1 (0: any free port)", (v) => portNumber(v), 6791)
    .action(async (options: { port: number }, command: Command) => {
      try {
        const { api } = command.optsWithGlobals<{ api?: string }>();
        await uiCommand(io, { port: options.port, ...(api !== undefined ? { api } : {}) });
      } catch (error) {
        reportError(io, error);
      }
    });

  program
    .command("apply")
    .description("validate a Bistro config file and store it as the new config version")
    .argument("<file>", "the Bistro config (JSON)")
    .option("--dry-run", "print what would change against the stored config; store nothing")
    .option("--json", "print the answer as JSON")
    .action(
      withApi((ctx, file: string, options: { dryRun?: boolean; json?: boolean }) => applyCommand(ctx, file, options)),
    );

  program
    .command("jobs")
    .description("list the jobs of the stored config")
    .option("--json", "print the API's answer as JSON")
    .action(withApi((ctx, options: { json?: boolean }) => jobsCommand(ctx, options)));

  program
    .command("tasks")
    .description("list tasks that started, finished or back off (pending tasks are implied, not listed)")
    .option(
      "--job <name>",
      "only this job (repeatable)",
      (value: string, previous: string[]) => [...previous, value],
      [],
    )
    .option("--node <name>", "only this node")
    .option("--state <state>", "running, done, failed, backoff, incomplete or error")
    .option("--json", "print {tasks: [...]} as JSON")
    .action(
      withApi((ctx, options: { job?: string[]; node?: string; state?: string; json?: boolean }) =>
        tasksCommand(ctx, options),
      ),
    );

  const nodes = program
    .command("nodes")
    .description("list the node tree (the instance node first), or one level's nodes")
    .option("--level <level>", "only this level")
    .option("--json", "print {levels, nodes} as JSON")
    .action(withApi((ctx, options: { level?: string; json?: boolean }) => nodesCommand(ctx, options)));
  nodes
    .command("push")
    .description(
      "run a script node source here (for AWS, where Lambda runs no scripts): SCRIPT <parent> for each node of " +
        "--parent-level, each stdout line a child, pushed as PUT /nodes/<source>; a failing script pushes nothing",
    )
    .requiredOption("--from-script <path>", "the program to run (no shell), as Bistro's script source runs it")
    .option(
      "--source <name>",
      "the pushed node source to replace (default: the script's file name, which a config's script entry reads on AWS)",
    )
    .requiredOption("--parent-level <level>", "the level whose nodes are the parents (e.g. instance)")
    .option("--timeout-sec <seconds>", "timeout of each run of the script (default 60, at most 3600)", (value) =>
      parseTimeout(value),
    )
    .option("--json", "print the API's answer as JSON")
    .action(withApi((ctx, options: NodesPushOptions) => nodesPushCommand(ctx, options)));

  program
    .command("workers")
    .description("list registered workers and their health")
    .option("--json", "print the API's answer as JSON")
    .action(withApi((ctx, options: { json?: boolean }) => workersCommand(ctx, options)));

  program
    .command("logs")
    .description("print a task's output, oldest line first")
    .argument("<job>")
    .argument("<node>")
    .option("--type <type>", "stdout, stderr or statuses", "stdout")
    .option("--follow", "keep printing new lines until Ctrl-C")
    .option("--json", "print one JSON object per line: {job, node, time, line, lineId}")
    .action(
      withApi((ctx, job: string, node: string, options: { type: string; follow?: boolean; json?: boolean }) =>
        logsCommand(ctx, job, node, options),
      ),
    );

  program
    .command("kill")
    .description("kill a running task (its end is reported as usual)")
    .argument("<job>")
    .argument("<node>")
    .option("--json", "print the API's answer as JSON")
    .action(
      withApi((ctx, job: string, node: string, options: { json?: boolean }) => killCommand(ctx, job, node, options)),
    );

  program
    .command("forgive")
    .description("forgive a failed or backing-off task, or every task of a job, so it may run again now")
    .argument("<job>")
    .argument("[node]")
    .option("--json", "print the API's answer as JSON")
    .action(
      withApi((ctx, job: string, node: string | undefined, options: { json?: boolean }) =>
        forgiveCommand(ctx, job, node, options),
      ),
    );

  program
    .command("worker")
    .description("run a worker: register through the API, run tasks from its queue until Ctrl-C")
    .requiredOption("--command <path>", "the task command (Bistro's --worker_command)")
    .option("--data-dir <dir>", "where task working directories go (default: ~/.sous/worker/<id>)")
    .option("--resources <list>", "capacity, as name=amount,... (e.g. cpu=4,ram_gb=16)", parseResources)
    .option("--id <id>", "worker id, one live instance each (default: the hostname)")
    .option("--hostname <host>", "hostname to register (default: this machine's)")
    .option("--heartbeat-period <sec>", "seconds between heartbeats (default 15)", (v) =>
      positiveInt(v, "--heartbeat-period"),
    )
    .option("--log-bucket <bucket>", "S3 bucket for task output (default: $SOUS_LOG_BUCKET, else the API's answer)")
    .option("--table <table>", "DynamoDB table for the log index (default: $SOUS_TABLE, else the API's answer)")
    .option("--json", "print worker events as JSON lines")
    .option("--once", "run the one start order in $SOUS_START_ORDER and exit (a container job's ECS task)")
    .option("--cgroup-root <path>", "where cgroup2 is mounted, for per-task limits (default /sys/fs/cgroup)")
    .option("--no-cgroups", "run tasks without per-task cgroup limits")
    .option("--task-pids-max <n>", "pids.max of each task's cgroup (default: no limit)", (v) =>
      positiveInt(v, "--task-pids-max"),
    )
    .addOption(
      new Option("--receive-wait-sec <sec>", "SQS long-poll seconds (tests)")
        .argParser((v) => positiveInt(v, "--receive-wait-sec"))
        .hideHelp(),
    )
    .action(withApi((ctx, options: Parameters<typeof workerCommand>[1]) => workerCommand(ctx, options)));

  return program;
}

/** Exit code of a commander usage error: 0 for --help/--version, else EXIT.usage. */
export function commanderExitCode(error: CommanderError): number {
  return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
}

function portNumber(value: string, flag = "--port"): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError(`${flag} takes 0 to 65535, not ${value}`);
  return n;
}

function wholeNumber(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${flag} takes a whole number >= 0, not ${value}`);
  return n;
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} takes a whole number >= 1, not ${value}`);
  return n;
}

/** Runs `sous` with the process's arguments (bin/sous.js, `npm run sous`, the packaged bundle). */
export function main(argv: string[] = process.argv): void {
  // Node 20 is supported here; the SDK's notice about its future Node 22 requirement is noise for users.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  buildProgram()
    .parseAsync(argv)
    .catch((error: unknown) => {
      if (error instanceof CommanderError) {
        process.exitCode = commanderExitCode(error);
        return;
      }
      console.error(`sous: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = EXIT.unexpected;
    });
}

function parseTimeout(value: string): number {
  const seconds = Number(value);
  if (!(seconds > 0 && seconds <= MAX_SCRIPT_TIMEOUT_SEC)) {
    throw new InvalidArgumentError(`a number of seconds in (0, ${MAX_SCRIPT_TIMEOUT_SEC}]`);
  }
  return seconds;
}

if (require.main === module) main();
