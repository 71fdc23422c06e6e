// Lambda entry point of status ingestion: SQS batches from the status queue. Applies the task
// ends (lib/round/apply-statuses), reports malformed or refused messages as partial batch
// failures (they are retried, then dead-lettered), and pokes a round when tasks finished.
import middy from "@middy/core";
import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { makeAwsClients } from "../lib/aws";
import { applyStatuses } from "../lib/round/apply-statuses";
import { lambdaRoundTrigger, requestRound } from "../lib/round/poke";
import { requireEnv } from "./env";

const logger = new Logger({ serviceName: "sous-status-ingest" });
const aws = makeAwsClients();

export async function statusHandler(event: SQSEvent): Promise<SQSBatchResponse> {
  const store = { doc: aws.doc, tableName: requireEnv("TABLE_NAME") };
  const result = await applyStatuses(
    {
      store,
      clock: Date.now,
      log: (entry) => {
        logger.warn("status", entry);
      },
    },
    event.Records.map((record) => ({ id: record.messageId, body: record.body })),
  );
  if (result.applied > 0) {
    await requestRound(store, lambdaRoundTrigger(aws.lambda, requireEnv("ROUND_FUNCTION_NAME")));
  }
  logger.info("statuses", { applied: result.applied, ignored: result.ignored, failed: result.failed.length });
  return { batchItemFailures: result.failed.map(({ id }) => ({ itemIdentifier: id })) };
}

export const handler = middy(statusHandler).use(injectLambdaContext(logger));
