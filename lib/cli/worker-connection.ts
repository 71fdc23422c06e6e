// How `sous worker` learns where to put things from its registration: the API answers with the
// log table and bucket (and, from `sous local`, the emulator endpoints and region), so a worker
// needs only the API address and credentials. The daemon takes its SQS client and log sink before
// it registers; these stand-ins forward to the real ones, which exist once registration answered.
// Flags and SOUS_TABLE/SOUS_LOG_BUCKET still win over the answer. No log destination at all is an
// error at start: task output is never dropped silently.
import type { SQSClient } from "@aws-sdk/client-sqs";
import { makeAwsClients, type AwsClients } from "../aws";
import { LogWriter } from "../logs/writer";
import type { ControlPlane, Heartbeat, RegistrationAnswer, WorkerRegistration } from "../worker/control-plane";
import type { LogLine, LogSink } from "../worker/daemon";
import { UsageError } from "./usage-error";

export interface WorkerConnectionOptions {
  workerId: string;
  /** --table / --log-bucket, then SOUS_TABLE / SOUS_LOG_BUCKET: these win over the registration. */
  tableName?: string | undefined;
  logBucket?: string | undefined;
  env: NodeJS.ProcessEnv;
}

export class MissingLogDestinationError extends UsageError {}

/** The log table and bucket, from the flags or the registration answer; throws if neither has them. */
export function logDestination(
  options: Pick<WorkerConnectionOptions, "tableName" | "logBucket">,
  answer: Pick<RegistrationAnswer, "tableName" | "logBucket">,
): { tableName: string; logBucket: string } {
  const tableName = options.tableName ?? answer.tableName;
  const logBucket = options.logBucket ?? answer.logBucket;
  if (!tableName || !logBucket) {
    throw new MissingLogDestinationError(
      "sous worker: the API's registration answer names no log table and bucket, and neither " +
        "--table/--log-bucket nor SOUS_TABLE/SOUS_LOG_BUCKET are set: task output would be lost. " +
        "Upgrade the API, or pass both.",
    );
  }
  return { tableName, logBucket };
}

/**
 * A control plane that, on registration, builds the worker's AWS clients and S3 log writer from
 * the answer. `sqs` and `logs` are handed to the daemon before that and forward to them.
 */
export class WorkerConnection implements ControlPlane {
  private clients: AwsClients | undefined;
  private writer: LogWriter | undefined;

  /** Forwards to the SQS client built at registration (the daemon uses only `send`). */
  readonly sqs: SQSClient = {
    // SQSClient.send has a callback overload typed void; the daemon only awaits the promise one.
    // eslint-disable-next-line @typescript-eslint/no-confusing-void-expression
    send: (...args: Parameters<SQSClient["send"]>) => this.connected().sqs.send(...args),
  } as unknown as SQSClient;

  readonly logs: LogSink & { close(): Promise<void> } = {
    append: (line: LogLine) => this.logWriter().append(line),
    appendLines: (task, stream, lines, timeMs) => this.logWriter().appendLines(task, stream, lines, timeMs),
    flush: () => this.writer?.flush() ?? Promise.resolve(),
    close: () => this.writer?.close() ?? Promise.resolve(),
    endTask: (task) => {
      this.writer?.endTask(task);
    },
  };

  constructor(
    private readonly inner: ControlPlane,
    private readonly options: WorkerConnectionOptions,
  ) {}

  async register(registration: WorkerRegistration): Promise<RegistrationAnswer> {
    const answer = await this.inner.register(registration);
    const { tableName, logBucket } = logDestination(this.options, answer);
    this.clients?.destroy();
    const endpoints: Partial<Record<"dynamodb" | "sqs" | "s3", string>> = {};
    for (const [service, url] of Object.entries(answer.endpoints ?? {})) {
      if (url) endpoints[service as keyof typeof endpoints] = url;
    }
    this.clients = makeAwsClients({
      env: this.options.env,
      endpoints,
      ...(answer.region ? { region: answer.region } : {}),
    });
    this.writer = new LogWriter({
      s3: this.clients.s3,
      doc: this.clients.doc,
      tableName,
      bucket: logBucket,
      workerId: this.options.workerId,
      logOwner: answer.logOwner,
    });
    return answer;
  }

  heartbeat(worker: Heartbeat) {
    return this.inner.heartbeat(worker);
  }

  /** Releases the clients (after the daemon exited). */
  destroy(): void {
    this.clients?.destroy();
    this.clients = undefined;
  }

  private connected(): AwsClients {
    if (!this.clients) throw new Error("The worker is not registered yet: it has no AWS clients.");
    return this.clients;
  }

  private logWriter(): LogWriter {
    if (!this.writer) throw new Error("The worker is not registered yet: it has no log writer.");
    return this.writer;
  }
}
