// Timers on time, end to end: a task that ends in error_backoff runs again when its backoff ends,
// woken by the round's delayed wake-up on the status queue (lib/round/wake.ts). Nothing else can
// start that round: the backstop and Bistro's idle/working waits are ten minutes, and no one pokes.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLocalDeployment, type LocalDeployment } from "../../lib/local/deployment";
import type { RoundReport } from "../../lib/round/run-round";
import type { WorkerEvent } from "../../lib/worker/daemon";
import { uniqueName } from "../helpers/aws";
import { ROOT, until } from "../helpers/demo";

const ERROR_ONCE = join(ROOT, "test", "fixtures", "tasks", "error-once.sh");
const BACKSTOP_SEC = 600;
const BACKOFF_SEC = 2;

describe("timers on time", () => {
  let deployment: LocalDeployment | undefined;
  afterAll(async () => {
    await deployment?.stop();
  });

  it("reruns a task in backoff when the backoff ends, with no poke and a long backstop", async () => {
    process.env.ERROR_ONCE_DIR = mkdtempSync(join(tmpdir(), "sous-error-once-"));
    const ends: string[] = [];
    const reports: RoundReport[] = [];
    deployment = await startLocalDeployment({
      name: uniqueName("timers"),
      workers: 1,
      workerCommand: ERROR_ONCE,
      dataDir: mkdtempSync(join(tmpdir(), "sous-timers-")),
      port: 0,
      maxRoundIntervalMs: BACKSTOP_SEC * 1000,
      config: {
        bistro_settings: {
          enabled: true,
          idle_wait: BACKSTOP_SEC,
          working_wait: BACKSTOP_SEC,
          nodes: { levels: ["host"], node_sources: [{ source: "manual", prefs: { h1: [] } }] },
          resources: { instance: { concurrency: { default: 1, limit: 1 } } },
        },
        "bistro_job->retried": { enabled: true, owner: "test", backoff: [BACKOFF_SEC, "fail"] },
      },
      onRound: (report) => reports.push(report),
      onWorkerEvent: (_worker: string, event: WorkerEvent) => {
        if (event.type === "task_ended") ends.push(event.end.rawStatus ?? "none");
      },
    });
    // The first run ends in error_backoff; the round that records it schedules a wake-up.
    await until(() => (ends.length >= 1 ? true : undefined), "the first run to end");
    expect(ends[0]).toBe("error_backoff");
    const scheduled = await until(
      () => reports.find((r) => r.wake?.what === "backoff" && r.wake.outcome === "scheduled"),
      "a round to schedule the backoff's wake-up",
    );
    expect(scheduled.started).toEqual([]);
    // The second run starts when the backoff ends: long before any backstop (the test's own timeout is 60 s).
    await until(() => (ends.length >= 2 ? true : undefined), "the rerun after the backoff", 600);
    expect(ends[1]).toBe("done");
    const rerun = reports.find((r) => r.started.length > 0 && r.round > scheduled.round);
    expect(rerun).toBeDefined();
  }, 60_000);
});
