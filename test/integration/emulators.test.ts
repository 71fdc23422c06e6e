// Proves the emulator harness: DynamoDB Local transactions, fauxqs SQS and S3, all on loopback.
import { CreateTableCommand, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from "@aws-sdk/client-sqs";
import { GetCommand, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { emulatorClients, uniqueName } from "../helpers/aws";

const aws = emulatorClients();
afterAll(() => {
  aws.destroy();
});

describe("emulator harness", () => {
  it("listens on loopback only", () => {
    for (const variable of ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_S3"]) {
      expect(new URL(process.env[variable] ?? "").hostname).toBe("127.0.0.1");
    }
  });

  it("cancels a TransactWriteItems whose condition fails, with a readable reason, and applies nothing", async () => {
    const table = uniqueName("harness");
    await aws.dynamodb.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: "PAY_PER_REQUEST",
        KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
        AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
      }),
    );
    const transaction = () =>
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: table,
              Item: { pk: "task#a" },
              ConditionExpression: "attribute_not_exists(pk)",
              ReturnValuesOnConditionCheckFailure: "ALL_OLD",
            },
          },
          {
            Update: {
              TableName: table,
              Key: { pk: "counter" },
              UpdateExpression: "ADD #n :one",
              ExpressionAttributeNames: { "#n": "count" },
              ExpressionAttributeValues: { ":one": 1 },
            },
          },
        ],
      });
    await aws.doc.send(transaction());
    const failure: unknown = await aws.doc.send(transaction()).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(TransactionCanceledException);
    const reasons = (failure as TransactionCanceledException).CancellationReasons?.map((r) => r.Code);
    expect(reasons).toEqual(["ConditionalCheckFailed", "None"]);
    const counter = await aws.doc.send(new GetCommand({ TableName: table, Key: { pk: "counter" } }));
    expect(counter.Item?.count).toBe(1);
  });

  it("sends, long-polls and deletes an SQS message", async () => {
    const { QueueUrl } = await aws.sqs.send(new CreateQueueCommand({ QueueName: uniqueName("harness") }));
    const receive = aws.sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 5 }));
    await aws.sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: '{"hello":"sous"}' }));
    const { Messages } = await receive;
    expect(Messages?.map((m) => m.Body)).toEqual(['{"hello":"sous"}']);
    await aws.sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: Messages?.[0]?.ReceiptHandle }));
    const { Attributes } = await aws.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
      }),
    );
    expect(Attributes).toEqual({ ApproximateNumberOfMessages: "0", ApproximateNumberOfMessagesNotVisible: "0" });
  });

  it("writes an S3 object and reads it back", async () => {
    const Bucket = uniqueName("harness");
    await aws.s3.send(new CreateBucketCommand({ Bucket }));
    await aws.s3.send(new PutObjectCommand({ Bucket, Key: "logs/a.txt", Body: "line 1\n", ContentType: "text/plain" }));
    const object = await aws.s3.send(new GetObjectCommand({ Bucket, Key: "logs/a.txt" }));
    expect(await object.Body?.transformToString()).toBe("line 1\n");
    expect(object.ContentType).toBe("text/plain");
  });
});
