// The worker's inbox: where its start and kill orders arrive. `WorkerInbox` is the port the daemon
// reads; `SqsInbox` is the production adapter (the worker's own queue, long-polled), `MemoryInbox`
// the in-process one for tests. `pollInbox` is the receive loop: receive, hand over, delete, with a
// capped backoff after failures, until aborted.
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { errorText } from "./error-text";

export interface InboxMessage {
  /** For reports (SQS's MessageId). */
  id: string;
  body: string;
  /** When the sender sent it (SQS's SentTimestamp), if known. */
  sentAtMs?: number;
  /** The adapter's handle for deleting it (SQS's ReceiptHandle). */
  receipt?: string;
}

export interface WorkerInbox {
  /** Waits for messages (long poll); [] when none came. Rejects on failure or when `signal` aborts. */
  receive(signal: AbortSignal): Promise<InboxMessage[]>;
  /**
   * Deletes handled messages so they do not come back; returns the per-message failures. Rejects
   * when nothing could be deleted. Undeleted messages come back later and are recognised then.
   */
  delete(messages: InboxMessage[]): Promise<string[]>;
}

/** The worker's SQS queue. */
export class SqsInbox implements WorkerInbox {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly waitSec: number,
  ) {}

  async receive(signal: AbortSignal): Promise<InboxMessage[]> {
    const response = await this.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: this.waitSec,
        MessageSystemAttributeNames: ["SentTimestamp"],
      }),
      { abortSignal: signal },
    );
    return (response.Messages ?? []).map((message) => {
      const sentAtMs = Number(message.Attributes?.SentTimestamp);
      return {
        id: message.MessageId ?? "",
        body: message.Body ?? "",
        ...(Number.isFinite(sentAtMs) ? { sentAtMs } : {}),
        ...(message.ReceiptHandle === undefined ? {} : { receipt: message.ReceiptHandle }),
      };
    });
  }

  async delete(messages: InboxMessage[]): Promise<string[]> {
    const entries = messages
      .filter((m) => m.receipt !== undefined)
      .map((m, i) => ({ Id: String(i), ReceiptHandle: m.receipt }));
    if (entries.length === 0) return [];
    const result = await this.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: entries }));
    return (result.Failed ?? []).map((failure) => `${failure.Code ?? ""} ${failure.Message ?? ""}`.trim());
  }
}

/** An in-process inbox: `push` delivers, `receive` waits for pushes. Deleted ids are kept for tests. */
export class MemoryInbox implements WorkerInbox {
  private readonly queued: InboxMessage[] = [];
  private wake: (() => void) | undefined;
  private sequence = 0;
  readonly deleted: string[] = [];

  push(body: string, sentAtMs?: number): string {
    const id = `m${++this.sequence}`;
    this.queued.push({ id, body, receipt: id, ...(sentAtMs === undefined ? {} : { sentAtMs }) });
    this.wake?.();
    return id;
  }

  async receive(signal: AbortSignal): Promise<InboxMessage[]> {
    while (this.queued.length === 0) {
      if (signal.aborted) throw signal.reason;
      await new Promise<void>((resolve) => {
        const done = () => {
          signal.removeEventListener("abort", done);
          this.wake = undefined;
          resolve();
        };
        this.wake = done;
        signal.addEventListener("abort", done);
      });
    }
    return this.queued.splice(0, 10);
  }

  delete(messages: InboxMessage[]): Promise<string[]> {
    for (const message of messages) this.deleted.push(message.id);
    return Promise.resolve([]);
  }
}

export interface InboxHandlers {
  /** Handles one batch synchronously; the batch is deleted afterwards. */
  onMessages: (messages: InboxMessage[]) => void;
  onReceiveError: (error: string) => void;
  onDeleteError: (error: string) => void;
}

/** The longest pause between failed receives. */
const MAX_RECEIVE_BACKOFF_MS = 20_000;

/** A sleep that ends early when `signal` aborts. */
function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal.addEventListener("abort", done);
  });
}

/** Receives until `signal` aborts; messages received as it aborts are still handed over and deleted. */
export async function pollInbox(inbox: WorkerInbox, signal: AbortSignal, handlers: InboxHandlers): Promise<void> {
  // Read through a call: the signal aborts during the awaits.
  const aborted = () => signal.aborted;
  let failures = 0;
  while (!aborted()) {
    let messages: InboxMessage[];
    try {
      messages = await inbox.receive(signal);
      failures = 0;
    } catch (error) {
      if (aborted()) return;
      failures++;
      handlers.onReceiveError(errorText(error));
      await sleepUnlessAborted(Math.min(MAX_RECEIVE_BACKOFF_MS, 250 * 2 ** Math.min(failures, 7)), signal);
      continue;
    }
    if (messages.length === 0) continue;
    handlers.onMessages(messages);
    try {
      for (const failure of await inbox.delete(messages)) handlers.onDeleteError(failure);
    } catch (error) {
      handlers.onDeleteError(errorText(error));
    }
  }
}
