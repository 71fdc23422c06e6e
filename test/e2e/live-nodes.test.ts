// End to end on `sous local` with a short nodes refresh period: a `script` source whose output
// changes gets tasks for its new nodes within one refresh, and a running task on a node the
// script drops is killed as an orphan; nodes pushed with tags (`PUT /nodes/{source}`) get
// tasks where a tag whitelist matches; an `add_time` source starts tasks for new time slots;
// and a polled config file applies its edits (a broken edit is
// refused and the running config stays).
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLocalDeployment, type LocalDeployment } from "../../lib/local/deployment";
import type { WorkerEvent } from "../../lib/worker/daemon";
import { uniqueName } from "../helpers/aws";

const seen: { state?: () => unknown } = {};

async function until<T>(check: () => T | undefined, what: string, attempts = 300): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const value = check();
    if (value !== undefined) {
      if (process.env.SOUS_E2E_TRACE) console.log(`${new Date().toISOString()} ${what}`);
      return value;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; saw ${JSON.stringify(seen.state?.())}`);
}

function executable(path: string, text: string): string {
  writeFileSync(path, text);
  chmodSync(path, 0o755);
  return path;
}

describe("sous local with live node sources", () => {
  let deployment: LocalDeployment | undefined;
  afterEach(async () => {
    await deployment?.stop();
    deployment = undefined;
  });

  it("follows a script's output, kills orphans, serves pushed nodes to tag filters, starts add_time slots, and applies config file edits", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sous-live-"));
    const shardsFile = join(dir, "shards.txt");
    writeFileSync(shardsFile, "a\nb\n");
    const script = executable(
      join(dir, "shards.sh"),
      `#!/bin/sh\n# Only the "scripted" group has shards.\nif [ "$1" = scripted ]; then cat "${shardsFile}"; fi\n`,
    );
    // Tasks run until killed (they never write a status on their own).
    const task = executable(join(dir, "task.sh"), "#!/bin/sh\nexec sleep 300\n");
    const config = (extraJobs: Record<string, unknown> = {}) => ({
      bistro_settings: {
        enabled: true,
        resources: {},
        kill_orphan_tasks_after_sec: 0,
        nodes: {
          levels: ["group", "shard"],
          node_sources: [
            { source: "manual", prefs: { scripted: [], timed: [], fed: [] } },
            { source: "script", prefs: { parent_level: "group", script } },
            { source: "pushed", prefs: { name: "inventory" } },
          ],
        },
      },
      "bistro_job->scan": { owner: "e2e", filters: { group: { whitelist: ["scripted"] } } },
      "bistro_job->eu_only": { owner: "e2e", filters: { shard: { tag_whitelist: ["eu"] } } },
      ...extraJobs,
    });
    const configFile = join(dir, "config.json");
    writeFileSync(configFile, JSON.stringify(config()));

    const started: string[] = [];
    const killed: string[] = [];
    const configEvents: { version?: number; error?: string }[] = [];
    const reasons: string[] = [];
    // Per round: whether it refreshed the nodes (and the set changed), and what it started.
    const rounds: { refreshed: boolean; changed: boolean; started: string[] }[] = [];
    seen.state = () => ({ started, killed, configEvents, reasons: reasons.slice(-3) });
    const onWorkerEvent = (_worker: string, event: WorkerEvent) => {
      if (event.type === "task_started") started.push(`${event.job}/${event.node}`);
      if (event.type === "task_ended" && event.end.killed) killed.push(`${event.end.job}/${event.end.node}`);
    };
    deployment = await startLocalDeployment({
      name: uniqueName("live"),
      workers: 1,
      workerResources: {},
      workerCommand: task,
      dataDir: join(dir, "data"),
      port: 0,
      instanceName: "scheduler",
      config: config(),
      nodeTimings: { updateMs: 500, retryMs: 500 },
      maxRoundIntervalMs: 500,
      configFile: { path: configFile, intervalMs: 200, initialText: JSON.stringify(config()) },
      onConfigFile: (event) => configEvents.push(event),
      onRound: (report) => {
        rounds.push({
          refreshed: report.nodes !== undefined,
          changed: report.nodes?.changed ?? false,
          started: report.started.map((start) => `${start.job}/${start.node}`),
        });
        const text = report.reasons.map((r) => r.message).join("; ");
        if (text && text !== reasons.at(-1)) reasons.push(text);
      },
      onWorkerEvent,
    });
    const has = (list: string[], item: string) => (list.includes(item) ? true : undefined);

    // The script's nodes run; a new line becomes a task within a refresh.
    await until(() => (has(started, "scan/a") && has(started, "scan/b") ? true : undefined), "scan/a and scan/b");
    const beforeC = rounds.length;
    writeFileSync(shardsFile, "a\nb\nc\n");
    await until(() => has(started, "scan/c"), "scan/c after the script printed c");
    // Within one refresh: the last refresh up to the round that started scan/c is the one that
    // changed the set (c's output stays, so any later refresh would have found it unchanged).
    // A refresh may read the file mid-write, so not every changed refresh brought c. (The
    // worker can report the start before the round that made it has reported.)
    const startRound = () => rounds.slice(beforeC).findIndex((round) => round.started.includes("scan/c"));
    const startedIn = await until(() => (startRound() >= 0 ? startRound() : undefined), "the round that started c");
    const refreshes = rounds.slice(beforeC, beforeC + startedIn + 1).filter((round) => round.refreshed);
    expect(refreshes.at(-1)?.changed).toBe(true);

    // b leaves the script's output: its running task is an orphan, killed at once (delay 0).
    writeFileSync(shardsFile, "a\nc\n");
    await until(() => has(killed, "scan/b"), "scan/b killed as an orphan");
    expect(killed).toEqual(["scan/b"]);

    // Nodes pushed through the API, with tags: the push refreshes at once, and only the shard
    // whose tags pass eu_only's tag whitelist gets its task.
    const push = await fetch(`${deployment.apiUrl}/nodes/inventory`, {
      method: "PUT",
      headers: { "content-type": "application/json", "if-match": '"0"' },
      body: JSON.stringify({
        nodes: [
          { name: "p-eu", level: "shard", parent: "fed", tags: ["eu", "ssd"] },
          { name: "p-us", level: "shard", parent: "fed", tags: ["us"] },
        ],
      }),
    });
    expect(push.status).toBe(200);
    await until(() => has(started, "eu_only/p-eu"), "eu_only/p-eu after the push");

    // A config file edit adds an add_time source and a job on its slots (every 2 s).
    const timed = config({ "bistro_job->hourly": { owner: "e2e", filters: { group: { whitelist: ["timed"] } } } });
    (timed.bistro_settings.nodes.node_sources as unknown[]).push({
      source: "add_time",
      prefs: { parent_level: "group", schedule: [{ cron: { epoch: { period: 2 } }, lifetime: 600 }] },
    });
    // First a broken edit: refused, reported, and nothing changes.
    writeFileSync(configFile, "{ not json");
    await until(() => (configEvents.some((e) => e.error?.includes("not valid JSON")) ? true : undefined), "refusal");
    writeFileSync(configFile, JSON.stringify(timed));
    await until(() => (configEvents.some((e) => e.version !== undefined) ? true : undefined), "the edit applied");
    // add_time names its nodes "{parent}:{time}": tasks start for a slot, then for later slots.
    const slots = () => started.filter((s) => s.startsWith("hourly/timed:"));
    const first = await until(() => slots()[0], "a task for a first time slot");
    await until(() => (slots().some((s) => s > first) ? true : undefined), "a task for a later time slot");
    // Nodes the script still prints keep their tasks; the scan job never ran on add_time nodes.
    expect(started.filter((s) => s.startsWith("scan/timed"))).toEqual([]);
    // eu_only ran only where the eu tag is: on the pushed p-eu, never on p-us or untagged shards.
    expect(started.filter((s) => s.startsWith("eu_only/"))).toEqual(["eu_only/p-eu"]);
    expect(killed.filter((k) => k !== "scan/b" && !k.startsWith("hourly/"))).toEqual([]);
  }, 180_000);
});
