// The DynamoDB table Sous keeps its state in: its key schema (shared with infra/) and a
// create-if-missing for local runs and tests.
import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  type DynamoDBClient,
} from "@aws-sdk/client-dynamodb";

export const TABLE_KEY_SCHEMA = { partitionKey: "pk", sortKey: "sk" } as const;

/** Creates the state table when it does not exist yet (local runs and tests; AWS uses infra/). */
export async function ensureTable(dynamodb: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
    return;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  try {
    await dynamodb.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: "PAY_PER_REQUEST",
        KeySchema: [
          { AttributeName: TABLE_KEY_SCHEMA.partitionKey, KeyType: "HASH" },
          { AttributeName: TABLE_KEY_SCHEMA.sortKey, KeyType: "RANGE" },
        ],
        AttributeDefinitions: [
          { AttributeName: TABLE_KEY_SCHEMA.partitionKey, AttributeType: "S" },
          { AttributeName: TABLE_KEY_SCHEMA.sortKey, AttributeType: "S" },
        ],
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
}
