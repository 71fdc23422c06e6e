// The round's own `statuses` lines, in real rounds on the emulators: an attempt whose container
// stopped unseen, and an attempt of a lost worker, each get a `lost` line with the reason their
// status got, written through the log writer into the round's folder and read back by readLogs
// under the attempt's token like a worker's lines.
import { CreateBucketCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";

import { readLogs, type LogLineRow } from "../../lib/logs/reader";
import { DEFAULT_LOG_KEY_PREFIX, SCHEDULER_LOG_OWNER } from "../../lib/logs/keys";
import { CONTAINER_LAUNCHER_ID } from "../../lib/round/container-dispatch";
import { CONTAINER_CHECK_PERIOD_MS, STOPPED_END_GRACE_MS } from "../../lib/round/container-upkeep";
import { roundStatusLog } from "../../lib/round/round-status-log";
import { readAttemptTokens } from "../../lib/store/dispatch-key";
import { readJobTasks } from "../../lib/store/tasks";
import { uniqueName } from "../helpers/aws";
import { fakeEcs } from "../helpers/fake-ecs";
import { bistroFixture, roundHarness } from "../helpers/round";

type Harness = Awaited<ReturnType<typeof roundHarness>>;

let h: Harness;
let bucket: string;
let errors: unknown[];

beforeEach(async () => {
  h = await roundHarness();
  bucket = uniqueName("sous-round-logs");
  await h.store.aws.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  errors = [];
  h.deps.statusLog = roundStatusLog({
    s3: () => h.store.aws.s3,
    doc: h.store.doc,
    tableName: h.store.tableName,
    bucket,
    clock: h.now,
    onError: (error) => errors.push(error),
  });
});
afterEach(() => {
  h.destroy();
});

async function statusLines(job: string, node: string): Promise<Record<string, unknown>[]> {
  const page = await readLogs(
    {
      s3: h.store.aws.s3,
      doc: h.store.doc,
      tableName: h.store.tableName,
      bucket,
      attemptTokens: () => readAttemptTokens(h.store),
      now: h.now,
    },
    { logType: "statuses", jobs: [job], nodes: [node], sort: "asc" },
  );
  return page.lines.map((row: LogLineRow) => JSON.parse(row[3]) as Record<string, unknown>);
}

async function segmentKeys(): Promise<string[]> {
  const listed = await h.store.aws.s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (listed.Contents ?? []).map((o) => o.Key ?? "");
}

describe("the round's statuses lines", () => {
  it("a container that stopped unseen: a lost line with ECS's stoppedReason, in the round's folder", async () => {
    const ecs = fakeEcs(h.now);
    h.deps.containers = ecs;
    await h.setConfig({
      bistro_settings: {
        enabled: true,
        nodes: { levels: ["shard"], node_sources: [{ source: "manual", prefs: { a: [] } }] },
        resources: { instance: { slots: { limit: 10, default: 1 } } },
      },
      "bistro_job->render": { owner: "t", container: { task_definition: "render" } },
    });
    const attempt = (await h.round()).started[0]!.attempt;
    h.advance(90_000);
    await h.round();
    expect(await segmentKeys()).toEqual([]); // nothing ended: nothing written
    h.advance(CONTAINER_CHECK_PERIOD_MS);
    ecs.tasks.get(attempt)!.state = {
      state: "stopped",
      stoppedReason: "OutOfMemoryError: Container killed due to memory usage",
      stoppedAtMs: h.now() - STOPPED_END_GRACE_MS - 1000,
      exitCode: 137,
    };
    await h.round();
    expect((await readJobTasks(h.store, "render"))[0]?.state).toBe("backoff");

    expect(await statusLines("render", "a")).toEqual([
      {
        event: "lost",
        reason:
          "Container task stopped without reporting its end: OutOfMemoryError: Container killed due to memory usage (exit code 137)",
        by: "scheduler",
        worker_host: "",
        worker: CONTAINER_LAUNCHER_ID,
        worker_instance: expect.any(String) as unknown,
      },
    ]);
    const keys = await segmentKeys();
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(new RegExp(`^${DEFAULT_LOG_KEY_PREFIX}${SCHEDULER_LOG_OWNER}/[^/]+\\.seg$`));
    expect(errors).toEqual([]);
  });

  it("a lost worker's attempts: one lost line each, naming the worker and its instance", async () => {
    await h.setConfig(bistroFixture("simple.json"));
    await h.addWorker("w1");
    const started = (await h.round()).started;
    expect(started).toHaveLength(3);
    h.advance((15 + 60 + 500) * 1000 + 1000); // past heartbeat period + grace + lose_unhealthy_worker_after
    await h.heartbeat("w1");
    expect((await h.round()).lostWorkers).toEqual(["w1"]);

    for (const { job, node } of started) {
      expect(await statusLines(job, node)).toEqual([
        {
          event: "lost",
          reason: "Remote worker lost (crashed? network down?)",
          by: "scheduler",
          worker_host: "",
          worker: "w1",
          worker_instance: "w1-1",
        },
      ]);
    }
    // One segment for the round's lines, not one per attempt.
    expect(await segmentKeys()).toHaveLength(1);
    expect(errors).toEqual([]);
  });
});
