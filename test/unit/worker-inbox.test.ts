// The worker's inbox (lib/worker/inbox.ts): the SQS adapter maps messages and deletes by receipt;
// the memory adapter delivers pushes; `pollInbox` hands batches over, deletes them, backs off after
// failures and stops when aborted.
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";

import { MemoryInbox, pollInbox, SqsInbox, type InboxMessage, type WorkerInbox } from "../../lib/worker/inbox";

describe("SqsInbox", () => {
  const sqs = mockClient(SQSClient);
  afterEach(() => sqs.reset());

  it("long-polls the worker's queue and maps SentTimestamp and the receipt", async () => {
    sqs.on(ReceiveMessageCommand).resolves({
      Messages: [
        { MessageId: "m1", Body: "{}", ReceiptHandle: "r1", Attributes: { SentTimestamp: "1234" } },
        { MessageId: "m2", Body: "x" },
      ],
    });
    const inbox = new SqsInbox(new SQSClient({ region: "us-east-1" }), "https://q/worker", 7);
    const messages = await inbox.receive(new AbortController().signal);
    expect(messages).toEqual([
      { id: "m1", body: "{}", sentAtMs: 1234, receipt: "r1" },
      { id: "m2", body: "x" },
    ]);
    expect(sqs.commandCalls(ReceiveMessageCommand)[0]?.args[0].input).toEqual({
      QueueUrl: "https://q/worker",
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 7,
      MessageSystemAttributeNames: ["SentTimestamp"],
    });
  });

  it("deletes by receipt and reports per-message failures", async () => {
    sqs
      .on(DeleteMessageBatchCommand)
      .resolves({ Failed: [{ Id: "1", Code: "ReceiptHandleIsInvalid", SenderFault: true, Message: "bad" }] });
    const inbox = new SqsInbox(new SQSClient({ region: "us-east-1" }), "https://q/worker", 20);
    const failures = await inbox.delete([
      { id: "m1", body: "", receipt: "r1" },
      { id: "m2", body: "" },
      { id: "m3", body: "", receipt: "r3" },
    ]);
    expect(failures).toEqual(["ReceiptHandleIsInvalid bad"]);
    expect(sqs.commandCalls(DeleteMessageBatchCommand)[0]?.args[0].input.Entries).toEqual([
      { Id: "0", ReceiptHandle: "r1" },
      { Id: "1", ReceiptHandle: "r3" },
    ]);
    expect(await inbox.delete([{ id: "m2", body: "" }])).toEqual([]);
    expect(sqs.commandCalls(DeleteMessageBatchCommand)).toHaveLength(1);
  });
});

describe("pollInbox", () => {
  it("hands batches over in order and deletes them", async () => {
    const inbox = new MemoryInbox();
    const abort = new AbortController();
    const seen: string[] = [];
    inbox.push("a", 5);
    const loop = pollInbox(inbox, abort.signal, {
      onMessages: (messages) => {
        seen.push(...messages.map((m) => m.body));
        if (seen.length === 3) abort.abort();
      },
      onReceiveError: (error) => {
        throw new Error(error);
      },
      onDeleteError: (error) => {
        throw new Error(error);
      },
    });
    await new Promise((resolve) => setImmediate(resolve));
    inbox.push("b");
    inbox.push("c");
    await loop;
    expect(seen).toEqual(["a", "b", "c"]);
    expect(inbox.deleted).toEqual(["m1", "m2", "m3"]);
  });

  it("reports receive and delete failures, keeps going, and stops when aborted", async () => {
    jest.useFakeTimers();
    try {
      const abort = new AbortController();
      let receives = 0;
      const inbox: WorkerInbox = {
        receive: () => {
          receives++;
          if (receives <= 2) return Promise.reject(new Error(`down ${receives}`));
          if (receives === 3) return Promise.resolve([{ id: "m", body: "x" }] as InboxMessage[]);
          abort.abort();
          return Promise.resolve([]);
        },
        delete: () => Promise.reject(new Error("delete down")),
      };
      const receiveErrors: string[] = [];
      const deleteErrors: string[] = [];
      const handled: string[] = [];
      const loop = pollInbox(inbox, abort.signal, {
        onMessages: (messages) => handled.push(...messages.map((m) => m.id)),
        onReceiveError: (error) => receiveErrors.push(error),
        onDeleteError: (error) => deleteErrors.push(error),
      });
      await jest.advanceTimersByTimeAsync(60_000);
      await loop;
      expect(receiveErrors).toEqual(["Error: down 1", "Error: down 2"]);
      expect(handled).toEqual(["m"]);
      expect(deleteErrors).toEqual(["Error: delete down"]);
      expect(receives).toBe(4);
    } finally {
      jest.useRealTimers();
    }
  });

  it("a memory inbox's receive ends when aborted", async () => {
    const abort = new AbortController();
    const receiving = new MemoryInbox().receive(abort.signal);
    abort.abort(new Error("stop"));
    await expect(receiving).rejects.toThrow("stop");
  });
});
