// The one place AWS SDK clients are built. Endpoints follow the SDK's standard variables
// (AWS_ENDPOINT_URL_<SERVICE>, then AWS_ENDPOINT_URL), so the same code talks to AWS,
// LocalStack or the embedded emulators; S3 switches to path-style when an endpoint is set.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { RDSClient } from "@aws-sdk/client-rds";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

export type AwsService = "dynamodb" | "sqs" | "s3" | "lambda" | "rds";

export interface AwsClientOptions {
  region?: string;
  /** Explicit endpoints; otherwise the standard environment variables decide. */
  endpoints?: Partial<Record<AwsService, string>>;
  env?: NodeJS.ProcessEnv;
}

export interface AwsClients {
  dynamodb: DynamoDBClient;
  /** Document client over `dynamodb`: plain JS values in and out, undefined attributes dropped. */
  doc: DynamoDBDocumentClient;
  sqs: SQSClient;
  s3: S3Client;
  lambda: LambdaClient;
  destroy(): void;
}

/** The endpoint for a service: explicit, then AWS_ENDPOINT_URL_<SERVICE>, then AWS_ENDPOINT_URL. */
export function resolveEndpoint(service: AwsService, options: AwsClientOptions = {}): string | undefined {
  const env = options.env ?? process.env;
  const value =
    options.endpoints?.[service] ?? env[`AWS_ENDPOINT_URL_${service.toUpperCase()}`] ?? env.AWS_ENDPOINT_URL;
  return value === "" ? undefined : value;
}

function isLoopback(endpoint: string): boolean {
  const host = new URL(endpoint).hostname;
  return host === "localhost" || host === "[::1]" || host.startsWith("127.");
}

function clientConfig(service: AwsService, options: AwsClientOptions) {
  const env = options.env ?? process.env;
  const endpoint = resolveEndpoint(service, options);
  const region = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? (endpoint ? "us-east-1" : undefined);
  // Emulators accept any key; without one configured the SDK would probe instance metadata and stall.
  const needsDummyCredentials =
    endpoint !== undefined && isLoopback(endpoint) && !env.AWS_ACCESS_KEY_ID && !env.AWS_PROFILE;
  return {
    ...(region ? { region } : {}),
    ...(endpoint ? { endpoint } : {}),
    ...(needsDummyCredentials ? { credentials: { accessKeyId: "test", secretAccessKey: "test" } } : {}),
  };
}

/**
 * The clients, each built on first use: a Lambda function pays only for those it touches (the
 * ingest function never builds an S3 or SQS client), and `destroy` closes only those built.
 */
export function makeAwsClients(options: AwsClientOptions = {}): AwsClients {
  const built: { destroy(): void }[] = [];
  const once = <T extends { destroy(): void }>(make: () => T): (() => T) => {
    let client: T | undefined;
    return () => {
      if (!client) built.push((client = make()));
      return client;
    };
  };
  const dynamodb = once(() => new DynamoDBClient(clientConfig("dynamodb", options)));
  const doc = once(() => DynamoDBDocumentClient.from(dynamodb(), { marshallOptions: { removeUndefinedValues: true } }));
  const sqs = once(() => new SQSClient(clientConfig("sqs", options)));
  const s3 = once(() => {
    const config = clientConfig("s3", options);
    return new S3Client({ ...config, forcePathStyle: "endpoint" in config });
  });
  const lambda = once(() => new LambdaClient(clientConfig("lambda", options)));
  return {
    get dynamodb() {
      return dynamodb();
    },
    get doc() {
      return doc();
    },
    get sqs() {
      return sqs();
    },
    get s3() {
      return s3();
    },
    get lambda() {
      return lambda();
    },
    destroy() {
      // The document client shares the DynamoDB client's handler: destroy it first, as before.
      for (const client of [...built].reverse()) client.destroy();
    },
  };
}

/** An RDS client (for the `rds` node source), made only by deployments that use it. */
export function makeRdsClient(options: AwsClientOptions = {}): RDSClient {
  return new RDSClient(clientConfig("rds", options));
}
