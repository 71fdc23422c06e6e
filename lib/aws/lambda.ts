// The Lambda client (round pokes invoke the round function).
import { LambdaClient } from "@aws-sdk/client-lambda";
import { clientConfig, type AwsClientOptions } from "./config";

export function makeLambdaClient(options: AwsClientOptions = {}): LambdaClient {
  return new LambdaClient(clientConfig("lambda", options));
}
