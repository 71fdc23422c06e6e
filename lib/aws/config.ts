// Settings shared by every AWS SDK client Sous builds (one module per service beside this one,
// so a Lambda bundle loads only the SDK packages it uses). Endpoints follow the SDK's standard
// variables (AWS_ENDPOINT_URL_<SERVICE>, then AWS_ENDPOINT_URL), so the same code talks to AWS,
// LocalStack or the embedded emulators.
export type AwsService = "dynamodb" | "sqs" | "s3" | "lambda" | "rds";

export interface AwsClientOptions {
  region?: string;
  /** Explicit endpoints; otherwise the standard environment variables decide. */
  endpoints?: Partial<Record<AwsService, string>>;
  env?: NodeJS.ProcessEnv;
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

/** Region, endpoint and (for emulators on loopback) dummy credentials of one service's client. */
export function clientConfig(service: AwsService, options: AwsClientOptions) {
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

/** `make` called once, on first use: a client (or its SDK package) costs nothing until needed. */
export function once<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}
