// DynamoDB clients: the low-level client and the document client over it.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { clientConfig, type AwsClientOptions } from "./config";

export function makeDynamoDbClient(options: AwsClientOptions = {}): DynamoDBClient {
  return new DynamoDBClient(clientConfig("dynamodb", options));
}

/** Plain JS values in and out, undefined attributes dropped. */
export function makeDocumentClient(dynamodb: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } });
}
