// The Lambda entry points of the round and of status ingestion, driven by sample events,
// against DynamoDB Local + fauxqs (Lambda itself is mocked: there is no Lambda emulator).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { mockClient } from "aws-sdk-client-mock";
import type { Context, SQSEvent } from "aws-lambda";
import type { StartMessage } from "../../lib/dispatch/messages";
import { readJobTasks } from "../../lib/store/tasks";
import { bistroFixture, roundHarness } from "../helpers/round";

const lambda = mockClient(LambdaClient);
const event = (path: string): unknown => JSON.parse(readFileSync(join(__dirname, "..", "..", "events", path), "utf8"));
const context = (id: string) => ({ awsRequestId: id, functionName: "sous-round" }) as Context;

type Harness = Awaited<ReturnType<typeof roundHarness>>;
let h: Harness;
beforeEach(async () => {
  h = await roundHarness();
  h.advance(Date.now() - h.now()); // the handlers read the real clock
  process.env.TABLE_NAME = h.store.tableName;
  process.env.ROUND_FUNCTION_NAME = "sous-round";
  process.env.INSTANCE_NODE_NAME = "scheduler";
  process.env.POWERTOOLS_LOG_LEVEL = "ERROR";
  lambda.reset();
  lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
});
afterEach(() => {
  h.destroy();
});

describe("functions/scheduler-round", () => {
  it("runs a round on the scheduled event and reports what it started", async () => {
    const { handler } = await import("../../functions/scheduler-round");
    await h.setConfig(bistroFixture("simple.json"));
    await h.addWorker("w1");
    const result = (await handler(event("eventbridge/scheduled-round.json"), context("req-1"))) as {
      rounds: number;
      started: number;
    };
    expect(result).toMatchObject({ rounds: 1, started: 3 });
    expect(await h.orders("w1")).toHaveLength(3);
  });

  it("says why nothing ran when there is no config", async () => {
    const { handler } = await import("../../functions/scheduler-round");
    const result = (await handler({ source: "sous.poke" }, context("req-2"))) as { reasons: string[] };
    expect(result.reasons.join(" ")).toMatch(/No config is stored yet/);
  });
});

describe("functions/status-ingest", () => {
  it("applies a status, reports the malformed message as a batch item failure, and pokes a round", async () => {
    const { handler } = await import("../../functions/status-ingest");
    await h.setConfig(bistroFixture("simple.json"));
    await h.addWorker("w1");
    await h.round();
    const started = (await h.orders("w1")) as StartMessage[];
    const target = started.find((o) => o.node === "node11") ?? started[0]!;
    const sqsEvent = event("sqs/status-batch.json") as SQSEvent;
    sqsEvent.Records[0]!.body = sqsEvent.Records[0]!.body.replace("ATTEMPT", target.attempt)
      .replace("TOKEN", target.token)
      .replace("node11", target.node);

    const response = await handler(sqsEvent, context("req-3"));
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: "2e1424d4-f796-459a-8184-9c92662be6da" }] });
    const task = (await readJobTasks(h.store, "simple_job")).find((t) => t.node === target.node);
    expect(task?.state).toBe("done");
    const invokes = lambda.commandCalls(InvokeCommand);
    expect(invokes).toHaveLength(1);
    expect(invokes[0]!.args[0].input).toMatchObject({ FunctionName: "sous-round", InvocationType: "Event" });
  });
});
