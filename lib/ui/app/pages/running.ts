// Running tasks and workers: what runs where (Bistro's running_tasks and job_node_runtime), and
// each worker's health, declared resources, heartbeat and the tasks it runs now.
import { bistro, dataOf, get } from "../client";
import { ActionButton, ErrorBox, formatDuration, formatTime, plural, useLoad } from "../components";
import { html, type View } from "../html";
import { href } from "../route";
import { killTasks } from "./jobs";

interface Worker {
  id: string;
  hostname: string;
  state: string;
  resources: Record<string, number>;
  heartbeatAtMs: number;
  registeredAtMs: number;
  lostAtMs?: number;
}

interface RunningRow {
  job: string;
  node: string;
  worker: string;
  startTime: number;
  runtime: number;
}

const HEALTH: Record<string, string> = { healthy: "✓ healthy", unhealthy: "⚠ unhealthy", must_die: "✗ must die" };

async function loadRunning() {
  const [answer, workers] = await Promise.all([
    bistro({ running: { handler: "running_tasks" }, runtime: { handler: "job_node_runtime" } }),
    get<{ workers: Worker[] }>("/workers"),
  ]);
  const running = dataOf(answer, "running") as Record<
    string,
    Record<string, { start_time: number; worker_shard: string }>
  >;
  const runtime = dataOf(answer, "runtime") as Record<string, Record<string, number>>;
  const rows: RunningRow[] = [];
  for (const [job, nodes] of Object.entries(running)) {
    for (const [node, info] of Object.entries(nodes)) {
      rows.push({
        job,
        node,
        worker: info.worker_shard,
        startTime: info.start_time,
        runtime: runtime[job]?.[node] ?? 0,
      });
    }
  }
  rows.sort((a, b) => a.startTime - b.startTime || (a.job + a.node < b.job + b.node ? -1 : 1));
  return { rows, workers: workers.workers };
}

export function RunningPage(): View {
  const loaded = useLoad(loadRunning, [], 2000);
  const rows = loaded.data?.rows ?? [];
  const workers = loaded.data?.workers ?? [];
  return html`<section aria-labelledby="running-title">
    <h2 id="running-title">Running tasks</h2>
    ${loaded.error !== undefined && html`<${ErrorBox} error=${loaded.error} />`}
    <table class="table" data-table="running">
      <caption>
        ${plural(rows.length, "running task")}
      </caption>
      <thead>
        <tr>
          <th scope="col">job</th>
          <th scope="col">node</th>
          <th scope="col">worker</th>
          <th scope="col">started</th>
          <th scope="col">runtime</th>
          <th scope="col"><span class="sr-only">actions</span></th>
        </tr>
      </thead>
      <tbody>
        ${rows.map(
          (r) =>
            html`<tr key=${`${r.job}/${r.node}`}>
              <td><a href=${href("jobs", [r.job])}>${r.job}</a></td>
              <td><a href=${href("jobs", [r.job], { task: r.node })}>${r.node}</a></td>
              <td>${r.worker}</td>
              <td>${formatTime(r.startTime)}</td>
              <td>${formatDuration(r.runtime)}</td>
              <td>
                <a href=${href("logs", [], { job: r.job, node: r.node, follow: "1" })}>logs</a>
                <${ActionButton} label="Kill" run=${() => killTasks(r.job, [r.node])} />
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
    <h2>Workers</h2>
    <table class="table" data-table="workers">
      <caption>
        ${plural(workers.length, "worker")}
      </caption>
      <thead>
        <tr>
          <th scope="col">worker</th>
          <th scope="col">health</th>
          <th scope="col">host</th>
          <th scope="col">resources</th>
          <th scope="col">last heartbeat</th>
          <th scope="col">running now</th>
        </tr>
      </thead>
      <tbody>
        ${workers.map((w) => {
          const mine = rows.filter((r) => r.worker === w.id);
          return html`<tr key=${w.id}>
            <td>${w.id}</td>
            <td class=${`health ${w.state}`}>${HEALTH[w.state] ?? w.state}</td>
            <td>${w.hostname}</td>
            <td>
              ${
                Object.entries(w.resources)
                  .map(([k, v]) => `${k}=${v}`)
                  .join(", ") || "–"
              }
            </td>
            <td>${formatTime(w.heartbeatAtMs / 1000)}</td>
            <td>${mine.length === 0 ? "–" : mine.map((r) => `${r.job}/${r.node}`).join(", ")}</td>
          </tr>`;
        })}
      </tbody>
    </table>
  </section>`;
}
