// The `statuses` log stream end to end: a worker (memory inbox, real S3 log writer on the
// emulators) runs, kills and refuses tasks, and `task_logs` with log type `statuses` (the reader
// behind the API's `task_logs`, `GET /logs` and `sous logs --type statuses`) returns each attempt's
// lifecycle.
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { s3LogReader } from "../../lib/api/logs";
import type { StartMessage, TaskEnd } from "../../lib/dispatch/messages";
import type { AttemptTokens } from "../../lib/dispatch/tokens";
import { LogWriter } from "../../lib/logs/writer";
import { readAttemptTokens } from "../../lib/store/dispatch-key";
import { BISTRO_WORKER_TIMINGS } from "../../lib/scheduler/worker-health";
import { ensureTable } from "../../lib/store/table";
import type { ControlPlane } from "../../lib/worker/control-plane";
import { startWorker, type WorkerEvent } from "../../lib/worker/daemon";
import { MemoryInbox } from "../../lib/worker/inbox";
import { emulatorClients, uniqueName } from "../helpers/aws";

const FIXTURES = join(__dirname, "..", "fixtures", "tasks");

const aws = emulatorClients();
let tableName: string;
let bucket: string;
let dataDir: string;
/** The deployment's tokens, as start orders from its round would carry them (readers check them). */
let tokenOf: AttemptTokens;

beforeAll(async () => {
  tableName = uniqueName("sous-statuses");
  bucket = uniqueName("sous-statuses");
  await ensureTable(aws.dynamodb, tableName);
  tokenOf = await readAttemptTokens({ doc: aws.doc, tableName });
  await aws.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  dataDir = mkdtempSync(join(tmpdir(), "sous-statuses-"));
});

afterAll(() => {
  aws.destroy();
  rmSync(dataDir, { recursive: true, force: true });
});

const controlPlane: ControlPlane = {
  register: () =>
    Promise.resolve({
      queueUrl: "memory://worker",
      statusQueueUrl: "memory://status",
      timings: BISTRO_WORKER_TIMINGS,
      heartbeatSecret: "k",
    }),
  heartbeat: () => Promise.resolve({ ok: true }),
};

function start(node: string, command: string[]): StartMessage {
  const attempt = randomUUID();
  return {
    type: "start",
    job: "statuses-job",
    node,
    attempt,
    token: tokenOf({ job: "statuses-job", node, attempt }),
    command,
    taskJson: { id: "statuses-job", config: {}, path_to_node: ["instance", node] },
    killRequest: { method: "term", killWaitMs: 0 },
    pollMs: 10,
    maxLogLinesPerPollInterval: 50,
  };
}

it("records started, status received, killed and refused attempts, readable as task_logs statuses", async () => {
  const inbox = new MemoryInbox();
  const ends: TaskEnd[] = [];
  const events: WorkerEvent[] = [];
  const logs = new LogWriter({ s3: aws.s3, doc: aws.doc, tableName, bucket, workerId: "w-statuses" });
  const worker = await startWorker(
    {
      controlPlane,
      logs,
      inbox: () => inbox,
      sendBodies: (_url, bodies) => {
        for (const body of bodies) ends.push(...(JSON.parse(body) as { ends: TaskEnd[] }).ends);
        return Promise.resolve({ failed: [], requests: 1 });
      },
      onEvent: (event) => events.push(event),
    },
    { id: "w-statuses", command: join(FIXTURES, "demo_bistro_task.sh"), dataDir, hostname: "host-1" },
  );
  const waitFor = async (ok: () => boolean) => {
    for (let i = 0; i < 600 && !ok(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(ok()).toBe(true);
  };

  const done = start("n-done", []);
  const killed = start("n-killed", [join(FIXTURES, "sleep-forever.sh")]);
  const refused = { ...start("n-killed", []), workerInstance: "someone-else" };
  inbox.push(JSON.stringify(done));
  inbox.push(JSON.stringify(killed));
  await waitFor(() => events.some((e) => e.type === "task_started" && e.attempt === killed.attempt));
  inbox.push(JSON.stringify(refused));
  const kill = {
    type: "kill",
    job: killed.job,
    node: killed.node,
    attempt: killed.attempt,
    token: killed.token,
    reason: "by test",
  };
  inbox.push(JSON.stringify({ ...kill, request: { method: "kill", killWaitMs: 0 } }));
  await waitFor(() => ends.length === 3);
  await worker.stop();

  const readLogs = s3LogReader({ s3: aws.s3, doc: aws.doc, tableName, bucket });
  const page = await readLogs({ logType: "statuses", jobs: ["statuses-job"], nodes: [], sort: "asc" });
  const byNode = (node: string) =>
    page.lines.filter(([, n]) => n === node).map(([, , , line]) => JSON.parse(line) as Record<string, unknown>);
  const doneEvents = byNode("n-done");
  expect(doneEvents.map((e) => e.event)).toEqual(["running", "got_status", "process_exited"]);
  expect(doneEvents[1]).toEqual({
    event: "got_status",
    raw_status: "done",
    worker_host: "host-1",
    worker: "w-statuses",
    worker_instance: worker.instanceId,
  });
  expect(doneEvents[0]?.command).toEqual([join(FIXTURES, "demo_bistro_task.sh")]);
  const killedEvents = byNode("n-killed");
  expect(killedEvents.map((e) => e.event)).toEqual(["running", "refused", "killed", "process_exited"]);
  expect(killedEvents[2]).toMatchObject({ request: { method: "kill", killWaitMs: 0 }, reason: "by test" });
  expect(killedEvents[3]).toMatchObject({ event: "process_exited", killed: true });
  expect(killedEvents[1]?.reason).toMatch(/someone-else/);
});
