// `sous worker --once` (a container job's ECS task) with real task processes and a mocked status
// queue: the end goes to the status queue with the attempt's token; the job's maximum runtime
// kills the task and the end says so; a stop request (ECS StopTask's SIGTERM) kills it the job's
// way and the end says killed; the `statuses` stream records each lifecycle. Nothing asserts how
// long anything took.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import type { StartMessage, TaskEnd } from "../../lib/dispatch/messages";
import { reportedStatusOf } from "../../lib/round/apply-statuses";
import { sliceTexts } from "../../lib/logs/segment-rows";
import type { LogLine, LogSink } from "../../lib/worker/log-sink";
import { parseStartOrder, runOnce } from "../../lib/worker/once";
import { StatusValues } from "../../lib/model/status";

const FIXTURES = join(__dirname, "..", "fixtures", "tasks");
const sqs = mockClient(SQSClient);
let dataDir: string;
beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), "sous-once-"));
});
afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});
beforeEach(() => {
  sqs.reset();
  sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: { Id: string }[] }) => ({
    Successful: input.Entries.map((e) => ({ Id: e.Id, MessageId: e.Id, MD5OfMessageBody: "" })),
  }));
});

function memoryLogs(): LogSink & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  return {
    lines,
    append: (line) => {
      lines.push(line);
      return undefined;
    },
    appendLines: (task, stream, read, timeMs) => {
      for (const text of sliceTexts(read)) lines.push({ ...task, stream, text, timeMs });
      return undefined;
    },
    flush: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}

function order(script: string, extra: Partial<StartMessage> = {}): StartMessage {
  return {
    type: "start",
    job: "j",
    node: "n",
    attempt: "r1.0",
    token: "token-r1.0-0123456789abcdef",
    workerInstance: "sous-ecs-run-task",
    command: [join(FIXTURES, script)],
    taskJson: { id: "j" },
    killRequest: { method: "term", killWaitMs: 0 },
    pollMs: 10,
    maxLogLinesPerPollInterval: 50,
    ...extra,
  };
}

const sentEnds = (): TaskEnd[] =>
  sqs
    .commandCalls(SendMessageBatchCommand)
    .flatMap((c) => c.args[0].input.Entries ?? [])
    .flatMap(
      (e) =>
        (JSON.parse(e.MessageBody ?? "{}") as { ends?: TaskEnd[] }).ends ?? [
          JSON.parse(e.MessageBody ?? "{}") as TaskEnd,
        ],
    );
const events = (logs: { lines: LogLine[] }) =>
  logs.lines.filter((l) => l.stream === "statuses").map((l) => (JSON.parse(l.text) as { event: string }).event);

const options = (o: StartMessage) => ({
  order: o,
  command: "/bin/false",
  dataDir,
  statusQueueUrl: "https://sqs/status",
  workerId: "sous-ecs-run-task",
  endDrainTimeoutMs: 5000,
});

describe("sous worker --once", () => {
  it("runs the task, sends its end with the token, and records running, got_status, process_exited", async () => {
    const logs = memoryLogs();
    const { end, sent } = await runOnce({ sqs: new SQSClient({}), logs }, options(order("demo_bistro_task.sh")));
    expect(sent).toBe(true);
    expect(end).toMatchObject({
      attempt: "r1.0",
      rawStatus: "done",
      killed: false,
      token: "token-r1.0-0123456789abcdef",
    });
    expect(sentEnds().map((e) => e.attempt)).toEqual(["r1.0"]);
    expect(events(logs)).toEqual(["running", "got_status", "process_exited"]);
  });

  it("kills a task past the job's maximum runtime; the end is an error with backoff naming it", async () => {
    const logs = memoryLogs();
    const { end } = await runOnce(
      { sqs: new SQSClient({}), logs },
      options(order("sleep-forever.sh", { maxRuntimeMs: 200 })),
    );
    expect(end.timedOutAfterMs).toBe(200);
    const status = reportedStatusOf(end);
    expect(status.bits).toBe(StatusValues.ERROR_BACKOFF);
    expect(JSON.stringify(status.data)).toContain("maximum runtime of 0.2 s");
    expect(events(logs)).toEqual(["running", "timed_out", "process_exited"]);
  });

  it("a stop request (StopTask's SIGTERM) kills the task the job's way; the end says killed", async () => {
    const logs = memoryLogs();
    let stop: (() => void) | undefined;
    const running = runOnce(
      {
        sqs: new SQSClient({}),
        logs,
        onStop: (kill) => {
          stop = kill;
          return () => undefined;
        },
      },
      options(order("sleep-forever.sh")),
    );
    // Stop once the task is running (its `running` event is written before the wait starts).
    while (!events(logs).includes("running")) await new Promise((r) => setTimeout(r, 10));
    stop?.();
    const { end } = await running;
    expect(end.killed).toBe(true);
    expect(reportedStatusOf(end).bits).toBe(StatusValues.INCOMPLETE_BACKOFF);
    expect(events(logs)).toEqual(["running", "killed", "process_exited"]);
  });

  it("refuses a missing or malformed start order, naming what is wrong", () => {
    expect(() => parseStartOrder(undefined)).toThrow("SOUS_START_ORDER is not set");
    expect(() => parseStartOrder("{")).toThrow("SOUS_START_ORDER is not JSON");
    expect(() => parseStartOrder('{"type":"start"}')).toThrow("SOUS_START_ORDER is not a start order");
  });
});
