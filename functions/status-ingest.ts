// Lambda entry point of status ingestion: SQS batches from the status queue, handed to the one
// ingestion path (lib/round/apply-statuses `ingestStatuses`, which checks, applies and pokes);
// malformed messages and refused releases become partial batch failures (retried, then dead-lettered).
import "./stack-traces"; // first: maps stack traces to the sources, read on first use
import middy from "@middy/core";
import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { once } from "../lib/aws/config";
import { makeDocumentClient, makeDynamoDbClient } from "../lib/aws/dynamodb";
import { makeLambdaClient } from "../lib/aws/lambda";
import { ingestStatuses } from "../lib/round/apply-statuses";
import { lambdaRoundTrigger } from "../lib/round/lambda-trigger";
import { requestRound } from "../lib/round/poke";
import { requireEnv } from "./env";

const logger = new Logger({ serviceName: "sous-status-ingest" });
// Only the clients this function uses, each made on first use.
const doc = once(() => makeDocumentClient(makeDynamoDbClient()));
const lambda = once(() => makeLambdaClient());

export async function statusHandler(event: SQSEvent): Promise<SQSBatchResponse> {
  const store = { doc: doc(), tableName: requireEnv("TABLE_NAME") };
  const result = await ingestStatuses(
    {
      store,
      clock: Date.now,
      log: (entry) => {
        logger.warn("status", entry);
      },
      poke: () => requestRound(store, lambdaRoundTrigger(lambda(), requireEnv("ROUND_FUNCTION_NAME"))),
    },
    event.Records.map((record) => ({ id: record.messageId, body: record.body })),
  );
  logger.info("statuses", {
    applied: result.applied,
    ignored: result.ignored,
    refused: result.refused,
    failed: result.failed.length,
  });
  return { batchItemFailures: result.failed.map(({ id }) => ({ itemIdentifier: id })) };
}

export const handler = middy(statusHandler).use(injectLambdaContext(logger));
