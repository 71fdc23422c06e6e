// One soak worker in a process of its own (so the soak can kill it with SIGKILL): the worker
// daemon on the emulators through the in-process control plane, with the soak's short health
// timings. Prints its events as JSON lines on stdout. Settings come from SOAK_* variables.
import { makeAwsClients } from "../../lib/aws";
import { InProcessControlPlane } from "../../lib/worker/control-plane";
import { startWorker, type LogSink } from "../../lib/worker/daemon";
import { SOAK_TIMINGS } from "./timings";

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const discard: LogSink = {
  append: () => Promise.resolve(),
  flush: () => Promise.resolve(),
  close: () => Promise.resolve(),
};

void (async () => {
  const aws = makeAwsClients();
  const worker = await startWorker(
    {
      controlPlane: new InProcessControlPlane({
        store: { doc: aws.doc, tableName: env("SOAK_TABLE") },
        sqs: aws.sqs,
        queuePrefix: env("SOAK_QUEUE_PREFIX"),
        statusQueueUrl: env("SOAK_STATUS_QUEUE"),
        clock: Date.now,
        timings: SOAK_TIMINGS,
      }),
      sqs: aws.sqs,
      logs: discard,
      onEvent: (event) => {
        process.stdout.write(`${JSON.stringify(event)}\n`);
      },
    },
    {
      id: env("SOAK_WORKER_ID"),
      command: env("SOAK_COMMAND"),
      dataDir: env("SOAK_DATA_DIR"),
      resources: { slots: 4 },
      heartbeatPeriodSec: SOAK_TIMINGS.heartbeatPeriodSec,
      receiveWaitSec: 1,
      endBatchWindowMs: 20,
    },
  );
  await worker.done;
})();
