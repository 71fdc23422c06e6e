// Every AWS client a long-running process may need (the CLI, `sous local`, tests, benches),
// each built on first use. Lambda functions import the per-service modules beside this one
// instead, so their bundles load only the SDK packages they use (docs/adr/0003).
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { LambdaClient } from "@aws-sdk/client-lambda";
import type { S3Client } from "@aws-sdk/client-s3";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { once, type AwsClientOptions } from "./config";
import { makeDocumentClient, makeDynamoDbClient } from "./dynamodb";
import { makeLambdaClient } from "./lambda";
import { makeS3Client } from "./s3";
import { makeSqsClient } from "./sqs";

export { resolveEndpoint, type AwsClientOptions, type AwsService } from "./config";
export { makeRdsClient } from "./rds";

export interface AwsClients {
  dynamodb: DynamoDBClient;
  /** Document client over `dynamodb`: plain JS values in and out, undefined attributes dropped. */
  doc: DynamoDBDocumentClient;
  sqs: SQSClient;
  s3: S3Client;
  lambda: LambdaClient;
  destroy(): void;
}

/** The clients, each built on first use; `destroy` closes only those built. */
export function makeAwsClients(options: AwsClientOptions = {}): AwsClients {
  const built: { destroy(): void }[] = [];
  const track = <T extends { destroy(): void }>(make: () => T) =>
    once(() => {
      const client = make();
      built.push(client);
      return client;
    });
  const dynamodb = track(() => makeDynamoDbClient(options));
  const doc = track(() => makeDocumentClient(dynamodb()));
  const sqs = track(() => makeSqsClient(options));
  const s3 = track(() => makeS3Client(options));
  const lambda = track(() => makeLambdaClient(options));
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
