// The worker daemon against the emulators (DynamoDB Local + fauxqs) with real bash tasks
// (test/fixtures/tasks/*.sh): start and kill messages, duplicates, refusals, malformed messages,
// heartbeats, the lost-worker self-deadline, graceful and forced shutdown, and end retries.
// Timing assertions compare times the worker RECORDED (its decisions) with the deadlines computed
// from the store's record by `workerState`; nothing asserts how long the test took.
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { parseMessage, statusMessageSchema, type StartMessage, type TaskEnd } from "../../lib/dispatch/messages";
import { createWorkerQueue, sendBatched } from "../../lib/dispatch/sqs";
import { workerState, workerSuicideAfterSec, type WorkerTimings } from "../../lib/scheduler/worker-health";
import { getWorker, markWorkerLost } from "../../lib/store/workers";
import type { LogStream, TokenedAttempt } from "../../lib/logs/segment";
import { sliceTexts, type LineSlices } from "../../lib/logs/segment-rows";
import { InProcessControlPlane, type ControlPlane } from "../../lib/worker/control-plane";
import {
  startWorker,
  type LogLine,
  type LogSink,
  type WorkerDeps,
  type WorkerEvent,
  type WorkerHandle,
  type WorkerOptions,
} from "../../lib/worker/daemon";
import type { SendBodies } from "../../lib/worker/end-sender";
import { uniqueName } from "../helpers/aws";
import { freshStore } from "../helpers/store";

const FIXTURES = join(__dirname, "..", "fixtures", "tasks");
const fixture = (name: string) => join(FIXTURES, name);

/** Timings small enough for a test: must_die after 6 s of silence; the worker gives up after 3 s. */
const FAST_TIMINGS: WorkerTimings = {
  heartbeatPeriodSec: 1,
  heartbeatGraceSec: 1,
  loseUnhealthyAfterSec: 4,
  workerCheckIntervalSec: 1,
};
/** Bistro's timings: no heartbeat falls due during a test that uses them. */
const QUIET_TIMINGS: WorkerTimings = {
  heartbeatPeriodSec: 15,
  heartbeatGraceSec: 60,
  loseUnhealthyAfterSec: 500,
  workerCheckIntervalSec: 5,
};

let store: Awaited<ReturnType<typeof freshStore>>;
let dataDir: string;
const workers: WorkerHandle[] = [];

beforeAll(async () => {
  store = await freshStore();
  dataDir = mkdtempSync(join(tmpdir(), "sous-worker-daemon-"));
});

afterEach(async () => {
  // A failed test must not leave tasks behind: a second stop SIGKILLs whatever still runs.
  for (const worker of workers.splice(0)) {
    void worker.stop({ graceful: false });
    void worker.stop({ graceful: false });
    await worker.done;
  }
});

afterAll(() => {
  store.destroy();
  rmSync(dataDir, { recursive: true, force: true });
});

class MemoryLogSink implements LogSink {
  readonly lines: LogLine[] = [];
  flushes = 0;
  closed = false;
  readonly endedTasks: string[] = [];
  append(line: LogLine): Promise<void> {
    this.lines.push(line);
    return Promise.resolve();
  }
  appendLines(task: TokenedAttempt, stream: LogStream, lines: LineSlices, timeMs: number): undefined {
    for (const text of sliceTexts(lines)) this.lines.push({ ...task, stream, text, timeMs });
  }
  flush(): Promise<void> {
    this.flushes++;
    return Promise.resolve();
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
  endTask(task: { attempt: string }): void {
    this.endedTasks.push(task.attempt);
  }
  /** The task's output lines (stdout and stderr). */
  texts(attempt: string): string[] {
    return this.lines.filter((l) => l.attempt === attempt && l.stream !== "statuses").map((l) => l.text);
  }
  /** The attempt's `statuses` stream, parsed. */
  statuses(attempt: string): Record<string, unknown>[] {
    return this.lines
      .filter((l) => l.attempt === attempt && l.stream === "statuses")
      .map((l) => JSON.parse(l.text) as Record<string, unknown>);
  }
}

class EventLog {
  readonly events: WorkerEvent[] = [];
  private waiters: { match: (e: WorkerEvent) => boolean; resolve: (e: WorkerEvent) => void }[] = [];
  readonly push = (event: WorkerEvent): void => {
    this.events.push(event);
    for (const waiter of this.waiters.filter((w) => w.match(event))) {
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.resolve(event);
    }
  };
  of<T extends WorkerEvent["type"]>(type: T): Extract<WorkerEvent, { type: T }>[] {
    return this.events.filter((e): e is Extract<WorkerEvent, { type: T }> => e.type === type);
  }
  /** The first event of `type` satisfying `match` (past or future). */
  waitFor<T extends WorkerEvent["type"]>(
    type: T,
    match: (e: Extract<WorkerEvent, { type: T }>) => boolean = () => true,
    timeoutMs = 30_000,
  ): Promise<Extract<WorkerEvent, { type: T }>> {
    const isIt = (e: WorkerEvent): e is Extract<WorkerEvent, { type: T }> => e.type === type && match(e as never);
    const seen = this.events.find(isIt);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`no ${type} event within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push({
        match: isIt,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e as Extract<WorkerEvent, { type: T }>);
        },
      });
    });
  }
}

interface Launched {
  worker: WorkerHandle;
  events: EventLog;
  logs: MemoryLogSink;
  statusQueueUrl: string;
  workerId: string;
  controlPlane: InProcessControlPlane;
  send(...messages: unknown[]): Promise<void>;
  /** Reads task ends from the status queue until `count` have arrived. */
  ends(count: number): Promise<TaskEnd[]>;
  /** True if nothing more arrives on the status queue within one short poll. */
  statusQueueEmpty(): Promise<boolean>;
}

async function newStatusQueue(): Promise<string> {
  const { QueueUrl } = await store.aws.sqs.send(new CreateQueueCommand({ QueueName: uniqueName("sous-status") }));
  if (!QueueUrl) throw new Error("no status queue URL");
  return QueueUrl;
}

async function launch(
  setup: {
    options?: Partial<WorkerOptions>;
    deps?: Partial<WorkerDeps>;
    timings?: WorkerTimings;
    wrapControlPlane?: (inner: ControlPlane) => ControlPlane;
    workerId?: string;
    queuePrefix?: string;
  } = {},
): Promise<Launched> {
  const statusQueueUrl = await newStatusQueue();
  const workerId = setup.workerId ?? uniqueName("w");
  const controlPlane = new InProcessControlPlane({
    store,
    sqs: store.aws.sqs,
    queuePrefix: setup.queuePrefix ?? uniqueName("sous-t"),
    statusQueueUrl,
    clock: Date.now,
    timings: setup.timings ?? QUIET_TIMINGS,
  });
  const events = new EventLog();
  const logs = new MemoryLogSink();
  const worker = await startWorker(
    {
      controlPlane: setup.wrapControlPlane ? setup.wrapControlPlane(controlPlane) : controlPlane,
      sqs: store.aws.sqs,
      logs,
      clock: Date.now,
      onEvent: events.push,
      ...setup.deps,
    },
    {
      id: workerId,
      command: fixture("demo_bistro_task.sh"),
      dataDir,
      heartbeatPeriodSec: (setup.timings ?? QUIET_TIMINGS).heartbeatPeriodSec,
      receiveWaitSec: 1,
      killWaitMs: 500,
      ...setup.options,
    },
  );
  workers.push(worker);
  const received: TaskEnd[] = [];
  const poll = async (waitSec: number): Promise<number> => {
    const { Messages } = await store.aws.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: statusQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: waitSec }),
    );
    for (const message of Messages ?? []) {
      const parsed = parseMessage(statusMessageSchema, message.Body ?? "");
      if (!parsed.ok) throw new Error(`bad status message: ${parsed.error}`);
      received.push(...parsed.value.ends);
    }
    return Messages?.length ?? 0;
  };
  return {
    worker,
    events,
    logs,
    statusQueueUrl,
    workerId,
    controlPlane,
    send: async (...messages) => {
      const bodies = messages.map((m) => (typeof m === "string" ? m : JSON.stringify(m)));
      const result = await sendBatched(store.aws.sqs, worker.queueUrl, bodies);
      expect(result.failed).toEqual([]);
    },
    ends: async (count) => {
      while (received.length < count) await poll(1);
      return received.slice(0, count);
    },
    statusQueueEmpty: async () => (await poll(1)) === 0,
  };
}

function startMessage(overrides: Partial<StartMessage> = {}): StartMessage {
  return {
    type: "start",
    job: "job1",
    node: uniqueName("node"),
    attempt: randomUUID(),
    token: randomUUID(),
    command: [],
    taskJson: { id: "job1", config: { answer: 42 }, path_to_node: ["instance", "node"] },
    killRequest: { method: "term", killWaitMs: 0 },
    pollMs: 10,
    maxLogLinesPerPollInterval: 50,
    ...overrides,
  };
}

function killMessage(
  start: Pick<StartMessage, "job" | "node" | "attempt" | "token">,
  method: "term" | "kill" = "term",
) {
  return {
    type: "kill",
    job: start.job,
    node: start.node,
    attempt: start.attempt,
    token: start.token,
    request: { method, killWaitMs: 0 },
    reason: "test",
  };
}

/** True if `pid` is a live process (zombies count as dead: PID 1 here need not reap). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

async function waitForLine(logs: MemoryLogSink, attempt: string, text: string): Promise<void> {
  for (let i = 0; i < 600 && !logs.texts(attempt).includes(text); i++) await new Promise((r) => setTimeout(r, 50));
  expect(logs.texts(attempt)).toContain(text);
}

describe("start and kill messages", () => {
  it("runs a start message's task with Bistro's argv, streams its lines, and reports its raw status", async () => {
    const w = await launch();
    const start = startMessage();
    await w.send(start);
    const [end] = await w.ends(1);
    expect(end).toEqual({
      job: start.job,
      node: start.node,
      attempt: start.attempt,
      worker: w.workerId,
      token: start.token, // echoed: status ingest accepts the end only with it
      rawStatus: "done",
      killed: false,
      exitCode: 0,
      signal: null,
      endedAtMs: expect.any(Number) as number,
    });
    expect(w.logs.texts(start.attempt)).toEqual([
      `demo task for node ${start.node}: status to /dev/fd/3, task JSON ${JSON.stringify(start.taskJson)}`,
      "demo task: this line goes to stderr",
    ]);
    expect(w.logs.endedTasks).toEqual([start.attempt]);
    expect(w.logs.lines.filter((l) => l.stream !== "statuses").map((l) => [l.job, l.node, l.stream])).toEqual([
      [start.job, start.node, "stdout"],
      [start.job, start.node, "stderr"],
    ]);
    const identity = {
      worker: w.workerId,
      worker_instance: w.worker.instanceId,
      worker_host: expect.any(String) as string,
    };
    expect(w.logs.statuses(start.attempt)).toEqual([
      { event: "running", command: [expect.any(String) as string], ...identity },
      { event: "got_status", raw_status: "done", ...identity },
      { event: "process_exited", exit_code: 0, signal: null, killed: false, raw_status: "done", ...identity },
    ]);
  });

  it("runs the message's own command when it has one", async () => {
    const w = await launch({ options: { baseEnv: { ...process.env, FIXTURE_STATUS: '{"result": "incomplete"}' } } });
    const start = startMessage({ command: [fixture("write-status.sh")] });
    await w.send(start);
    const [end] = await w.ends(1);
    expect(end?.rawStatus).toBe('{"result": "incomplete"}');
  });

  it("runs a duplicated start of one attempt once", async () => {
    const w = await launch();
    const start = startMessage();
    await w.send(start, start);
    const [end] = await w.ends(1);
    await w.send(start); // re-sent after the end: still a duplicate
    await w.events.waitFor(
      "start_ignored",
      (e) => e.attempt === start.attempt && w.events.of("start_ignored").length === 2,
    );
    expect(w.events.of("task_started").filter((e) => e.attempt === start.attempt)).toHaveLength(1);
    expect(end?.rawStatus).toBe("done");
    expect(w.logs.texts(start.attempt).filter((t) => t.startsWith("demo task for node"))).toHaveLength(1);
    expect(await w.statusQueueEmpty()).toBe(true);
  });

  it("kills a running task on a kill message: killed, no status", async () => {
    const w = await launch();
    const start = startMessage({ command: [fixture("sleep-forever.sh")] });
    await w.send(start);
    await waitForLine(w.logs, start.attempt, "ready");
    await w.send(killMessage(start));
    const [end] = await w.ends(1);
    expect(end).toMatchObject({ attempt: start.attempt, killed: true, signal: "SIGTERM" });
    expect(end?.rawStatus).toBeUndefined();
    expect(end?.notRunning).toBeUndefined();
    expect(w.logs.statuses(start.attempt).map((e) => e.event)).toEqual(["running", "killed", "process_exited"]);
    expect(w.logs.statuses(start.attempt)[1]).toMatchObject({ request: killMessage(start).request });
  });

  it("answers a kill of an attempt it is not running with a notRunning end, and never runs that attempt later", async () => {
    const w = await launch();
    const start = startMessage();
    await w.send(killMessage(start));
    const [end] = await w.ends(1);
    expect(end).toMatchObject({
      attempt: start.attempt,
      token: start.token,
      notRunning: true,
      killed: false,
      exitCode: null,
    });
    await w.send(start); // SQS does not keep order: the start may come after its kill
    await w.events.waitFor("start_ignored", (e) => e.attempt === start.attempt);
    expect(w.events.of("task_started")).toHaveLength(0);
    expect(await w.statusQueueEmpty()).toBe(true);
  });

  it("refuses a different attempt of a task it is running (notRunning end) and keeps the running one", async () => {
    const w = await launch();
    const first = startMessage({ command: [fixture("sleep-forever.sh")] });
    const second = startMessage({ node: first.node, command: [fixture("sleep-forever.sh")] });
    await w.send(first);
    await waitForLine(w.logs, first.attempt, "ready");
    await w.send(second);
    const [refused] = await w.ends(1);
    expect(refused).toMatchObject({ attempt: second.attempt, notRunning: true });
    expect(w.events.of("start_refused").map((e) => e.reason)).toEqual([
      `attempt ${first.attempt} of the same task is running here`,
    ]);
    expect(w.worker.runningAttempts()).toEqual([first.attempt]);
    expect(w.logs.statuses(second.attempt)).toMatchObject([
      { event: "refused", reason: `attempt ${first.attempt} of the same task is running here` },
    ]);
    await w.send(killMessage(first));
    const [, killed] = await w.ends(2);
    expect(killed).toMatchObject({ attempt: first.attempt, killed: true });
  });

  it("refuses a start sent before this instance registered (meant for a previous one)", async () => {
    const prefix = uniqueName("sous-t");
    const workerId = uniqueName("w");
    const queueUrl = await createWorkerQueue(store.aws.sqs, prefix, workerId);
    const stale = startMessage();
    expect((await sendBatched(store.aws.sqs, queueUrl, [JSON.stringify(stale)])).failed).toEqual([]);
    await new Promise((r) => setTimeout(r, 5)); // SentTimestamp has millisecond resolution
    const w = await launch({ workerId, queuePrefix: prefix });
    expect(w.worker.queueUrl).toBe(queueUrl);
    const [end] = await w.ends(1);
    expect(end).toMatchObject({ attempt: stale.attempt, notRunning: true });
    expect(w.events.of("start_refused").map((e) => e.reason)).toEqual([
      expect.stringMatching(/before this worker instance registered/),
    ]);
    expect(w.events.of("task_started")).toHaveLength(0);
  });

  it("logs and deletes malformed messages and keeps serving", async () => {
    const w = await launch();
    const good = startMessage();
    await w.send("not json", { type: "start", job: "j" }, { type: "launch" }, good);
    const [end] = await w.ends(1);
    expect(end?.attempt).toBe(good.attempt);
    await w.events.waitFor("malformed_message", () => w.events.of("malformed_message").length === 3);
    expect(w.events.of("malformed_message").map((e) => e.error)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^not JSON/), expect.stringMatching(/node/)]),
    );
    // Every message was deleted: nothing left, visible or in flight.
    let left = -1;
    for (let i = 0; i < 100 && left !== 0; i++) {
      const { Attributes } = await store.aws.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: w.worker.queueUrl,
          AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        }),
      );
      left =
        Number(Attributes?.ApproximateNumberOfMessages) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible);
      if (left !== 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(left).toBe(0);
  });
});

describe("status queue sends", () => {
  it("keeps an end and retries it until SQS accepts it", async () => {
    let calls = 0;
    const flaky: SendBodies = async (url, bodies) => {
      calls++;
      if (calls <= 2) throw new Error("status queue unreachable");
      if (calls === 3) return { requests: 1, failed: bodies.map((body) => ({ body, error: "InternalError" })) };
      return sendBatched(store.aws.sqs, url, bodies);
    };
    const w = await launch({ deps: { sendBodies: flaky } });
    const start = startMessage();
    await w.send(start);
    const [end] = await w.ends(1);
    expect(end).toMatchObject({ attempt: start.attempt, rawStatus: "done" });
    expect(w.events.of("ends_send_failed").map((e) => [e.ends, e.consecutiveFailures, e.error])).toEqual([
      [1, 1, "status queue unreachable"],
      [1, 2, "status queue unreachable"],
      [1, 3, "InternalError"],
    ]);
    expect(await w.statusQueueEmpty()).toBe(true); // sent once, not once per try
  });
});

describe("heartbeats and the lost-worker self-deadline", () => {
  it("records heartbeats in the store", async () => {
    const w = await launch({ timings: FAST_TIMINGS });
    const registered = await getWorker(store, w.workerId);
    const second = await w.events.waitFor("heartbeat", () => w.events.of("heartbeat").length >= 2);
    const record = await getWorker(store, w.workerId);
    expect(second.ok).toBe(true);
    expect(record?.instanceId).toBe(w.worker.instanceId);
    expect(record?.heartbeatAtMs).toBeGreaterThan(registered?.heartbeatAtMs ?? Infinity);
    expect(record?.heartbeatAtMs).toBeGreaterThanOrEqual(second.sentAtMs);
    expect(w.events.of("suicide")).toHaveLength(0);
  });

  it("kills its tasks and exits before the scheduler may call it lost when heartbeats stop being acknowledged", async () => {
    let acknowledged = 0;
    const failing = (inner: ControlPlane): ControlPlane => ({
      register: (r) => inner.register(r),
      heartbeat: async (h) => {
        if (acknowledged >= 1) throw new Error("control plane unreachable");
        acknowledged++;
        return inner.heartbeat(h);
      },
    });
    const w = await launch({ timings: FAST_TIMINGS, wrapControlPlane: failing });
    // This task ignores SIGTERM: only the SIGKILL after the kill wait ends it.
    const start = startMessage({ command: [fixture("ignore-term.sh")] });
    await w.send(start);
    await waitForLine(w.logs, start.attempt, "ready");
    const exit = await w.worker.done;

    const registered = w.events.of("registered")[0]!;
    const acked = w.events.of("heartbeat").filter((e) => e.ok);
    const suicide = w.events.of("suicide")[0]!;
    const killed = w.events.of("tasks_killed")[0]!;
    expect(exit.reason).toBe("silence");
    expect(registered.suicideAfterMs).toBe(workerSuicideAfterSec(FAST_TIMINGS) * 1000);
    expect(acked).toHaveLength(1);
    expect(suicide.lastAckSentAtMs).toBe(acked[0]!.sentAtMs);
    // It gave up only after the full silence it allows itself...
    expect(suicide.atMs - suicide.lastAckSentAtMs).toBeGreaterThanOrEqual(registered.suicideAfterMs);
    // ...and its tasks were dead, and it had exited, while the scheduler still had to call it alive.
    const record = (await getWorker(store, w.workerId))!;
    expect(record.heartbeatAtMs).toBeGreaterThanOrEqual(suicide.lastAckSentAtMs);
    const mustDieAtMs = record.heartbeatAtMs + registered.mustDieAfterMs + 1;
    expect(workerState(record, mustDieAtMs, FAST_TIMINGS)).toBe("must_die");
    expect(workerState(record, mustDieAtMs - 1, FAST_TIMINGS)).not.toBe("must_die");
    expect(killed.atMs).toBeLessThan(mustDieAtMs);
    expect(exit.atMs).toBeLessThan(mustDieAtMs);
    expect(workerState(record, exit.atMs, FAST_TIMINGS)).not.toBe("must_die");
    expect(killed.stillRunning).toEqual([]);

    const [end] = await w.ends(1);
    expect(end).toMatchObject({ attempt: start.attempt, killed: true, signal: "SIGKILL" });
    expect(w.logs.statuses(start.attempt).map((e) => e.event)).toEqual(["running", "lost", "process_exited"]);
    expect(w.logs.statuses(start.attempt)[1]?.reason).toMatch(/^worker gave up \(silence\)/);
    const children = w.logs.texts(start.attempt).flatMap((t) => (t.startsWith("child ") ? [Number(t.slice(6))] : []));
    expect(children).toHaveLength(1);
    for (const pid of children) expect(isRunning(pid)).toBe(false);
    expect(w.logs.closed).toBe(true);
  });

  it("kills its tasks and exits at once when a heartbeat is answered not-ok (declared lost)", async () => {
    const w = await launch({ timings: FAST_TIMINGS });
    const start = startMessage({ command: [fixture("sleep-forever.sh")] });
    await w.send(start);
    await waitForLine(w.logs, start.attempt, "ready");
    expect(await markWorkerLost(store, w.workerId, w.worker.instanceId, Date.now())).toBe(true);
    const exit = await w.worker.done;
    expect(exit.reason).toBe("rejected");
    const rejected = w.events.of("heartbeat").find((e) => !e.ok)!;
    expect(rejected.reason).toMatch(/declared lost/);
    const suicide = w.events.of("suicide")[0]!;
    expect(suicide.reason).toBe("rejected");
    // Decided on the answer itself, not after waiting out any silence.
    expect(suicide.atMs - suicide.lastAckSentAtMs).toBeLessThan(w.events.of("registered")[0]!.suicideAfterMs);
    const [end] = await w.ends(1);
    expect(end).toMatchObject({ attempt: start.attempt, killed: true });
  });
});

describe("shutdown", () => {
  it("graceful: stops receiving, lets a running task finish, sends its end, flushes the logs", async () => {
    const goFile = join(dataDir, `go-${randomUUID()}`);
    const w = await launch({
      options: { shutdownWaitMs: 60_000, baseEnv: { ...process.env, FIXTURE_GO_FILE: goFile } },
    });
    const start = startMessage({ command: [fixture("daemon-wait-for-file.sh")] });
    await w.send(start);
    await waitForLine(w.logs, start.attempt, "ready");
    const done = w.worker.stop({ graceful: true });
    const stopping = await w.events.waitFor("stopping");
    expect(stopping).toMatchObject({ graceful: true, running: 1 });
    writeFileSync(goFile, "");
    const exit = await done;
    expect(exit).toMatchObject({ reason: "stopped", unsentEnds: [] });
    expect(w.events.of("kill_all")).toHaveLength(0);
    const [end] = await w.ends(1);
    expect(end).toMatchObject({ attempt: start.attempt, rawStatus: "done", killed: false });
    expect(w.logs.flushes).toBeGreaterThanOrEqual(1);
    expect(w.logs.closed).toBe(true);
  });

  it("graceful with a wait limit: kills what is still running per its kill request and sends its end", async () => {
    const w = await launch({ options: { shutdownWaitMs: 200 } });
    const start = startMessage({
      command: [fixture("term-writes-status.sh")],
      killRequest: { method: "term", killWaitMs: 0 },
    });
    await w.send(start);
    await waitForLine(w.logs, start.attempt, "ready");
    const exit = await w.worker.stop({ graceful: true });
    expect(exit.reason).toBe("stopped");
    expect(w.events.of("kill_all").map((e) => e.why)).toEqual(["shutdown"]);
    const [end] = await w.ends(1);
    expect(end).toMatchObject({ attempt: start.attempt, rawStatus: "incomplete", killed: true });
  });

  it("a second stop SIGKILLs a task that ignores its kill request", async () => {
    const w = await launch({ options: { killWaitMs: 60_000 } });
    const start = startMessage({
      command: [fixture("ignore-term.sh")],
      killRequest: { method: "term", killWaitMs: 0 },
    });
    await w.send(start);
    await waitForLine(w.logs, start.attempt, "ready");
    const done = w.worker.stop({ graceful: false });
    await w.events.waitFor("kill_all");
    expect(w.worker.runningAttempts()).toEqual([start.attempt]); // SIGTERM is ignored
    void w.worker.stop({ graceful: false });
    const exit = await done;
    expect(exit.reason).toBe("stopped");
    expect(w.events.of("kill_all").map((e) => e.why)).toEqual(["shutdown", "second stop request"]);
    const [end] = await w.ends(1);
    expect(end).toMatchObject({ attempt: start.attempt, killed: true, signal: "SIGKILL" });
  });
});
