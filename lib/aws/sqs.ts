// The SQS client.
import { SQSClient } from "@aws-sdk/client-sqs";
import { clientConfig, type AwsClientOptions } from "./config";

export function makeSqsClient(options: AwsClientOptions = {}): SQSClient {
  return new SQSClient(clientConfig("sqs", options));
}
