// What every store module needs: the document client and the table name.
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

export interface StoreContext {
  doc: DynamoDBDocumentClient;
  tableName: string;
}
