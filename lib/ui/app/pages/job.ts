// A job's shards: a grid of the nodes of one level, each coloured (and marked with a symbol) by
// the statuses of the job's tasks beneath it, from `GET /jobs/{name}/shards`. Levels above the
// job's own aggregate and drill down, so a job over 100k nodes loads a level at a time; at the
// job's level each cell is a task, and choosing it shows its attempt, backoff, previous status,
// worker, runtime and logs, with kill and forgive.
import { useState } from "preact/hooks";
import { call, get, segment } from "../client";
import { ActionButton, ErrorBox, formatDuration, formatTime, Legend, plural, StatusBar, useLoad } from "../components";
import { html, type View } from "../html";
import { href } from "../route";
import { category, categoryOfBits, countByCategory } from "../status";
import { decodeHistogramCode } from "../../../api/histogram-codes";
import { killTasks } from "./jobs";

interface ShardGroup {
  name: string;
  counts: Record<string, number>;
  enabled: boolean;
}

interface ShardsAnswer {
  level: string;
  levelForTasks: string;
  levels: string[];
  parent: string | null;
  total: number;
  nodes: ShardGroup[];
  nextCursor: string | null;
}

export interface TaskView {
  job: string;
  node: string;
  state: string;
  label: string;
  status?: { result_bits?: number; time?: number; backoff_duration?: number; data?: unknown; rawStatus?: unknown };
  backoffUntilSec?: number;
  lastAttempt?: string;
  running?: { attempt: string; worker: string; startTimeSec: number };
}

type LogLine = { time: number; line: string; lineId: string };

/** The cell's single category at the task level (one code, one task). */
function taskCategory(group: ShardGroup): string {
  const [code] = Object.keys(group.counts);
  return code === undefined ? "unstarted" : categoryOfBits(decodeHistogramCode(code));
}

function Logs({ job, node }: { job: string; node: string }): View {
  const logs = useLoad(
    async () => {
      const [stdout, stderr] = await Promise.all(
        ["stdout", "stderr"].map((type) =>
          get<{ lines: LogLine[] }>("/logs", { job, node, type, sort: "asc", limit: 100 }),
        ),
      );
      return { stdout: stdout?.lines ?? [], stderr: stderr?.lines ?? [] };
    },
    [job, node],
    3000,
  );
  return html`<div class="task-logs">
    ${logs.error !== undefined && html`<${ErrorBox} error=${logs.error} />`}
    ${(["stdout", "stderr"] as const).map(
      (type) =>
        html`<h4>${type}</h4>
          <pre class="log" data-log=${type} tabindex="0">
${(logs.data?.[type] ?? []).map((l) => l.line).join("") || "(nothing yet)"}</pre>`,
    )}
    <a href=${href("logs", [], { job, node })}>All logs of this task →</a>
  </div>`;
}

function TaskPanel({ job, node, onChange }: { job: string; node: string; onChange: () => void }): View {
  const task = useLoad(
    async () => (await get<{ tasks: TaskView[] }>("/tasks", { job, node })).tasks[0] ?? null,
    [job, node],
    2000,
  );
  const t = task.data;
  const now = Date.now() / 1000;
  const after = (run: () => Promise<string>) => async () => {
    const text = await run();
    void task.reload();
    onChange();
    return text;
  };
  const cat = t ? category(t.running ? "running" : categoryOfBits(t.status?.result_bits ?? 0)) : category("unstarted");
  return html`<aside class="task" aria-label=${`Task ${node}`}>
    <h3>Task ${node}</h3>
    ${task.error !== undefined && html`<${ErrorBox} error=${task.error} />`}
    ${task.data === null && html`<p>Pending: this task has not started yet.</p>`}
    ${
      t &&
      html`<dl class="facts">
        <dt>status</dt>
        <dd><span class=${`chip st-${cat.key}`}>${cat.symbol}</span> ${t.label}</dd>
        <dt>attempt</dt>
        <dd>${t.running?.attempt ?? t.lastAttempt ?? "–"}</dd>
        <dt>worker</dt>
        <dd>${t.running?.worker ?? "–"}</dd>
        <dt>runtime</dt>
        <dd>
          ${t.running ? `${formatDuration(now - t.running.startTimeSec)} (since ${formatTime(t.running.startTimeSec)})` : "not running"}
        </dd>
        <dt>backoff</dt>
        <dd>
          ${t.backoffUntilSec !== undefined && t.backoffUntilSec > now ? `until ${formatTime(t.backoffUntilSec)}` : "none"}${t.status?.backoff_duration !== undefined ? ` (${t.status.backoff_duration} s step)` : ""}
        </dd>
        <dt>previous status</dt>
        <dd><code>${t.status ? JSON.stringify(t.status) : "none"}</code></dd>
      </dl>`
    }
    <div class="actions">
      <${ActionButton} label="Kill" disabled=${!t?.running} run=${after(() => killTasks(job, [node]))} />
      <${ActionButton}
        label="Forgive"
        run=${after(async () => {
          const { body } = await call<{ forgiven: boolean }>("POST", `/tasks/${segment(job)}/${segment(node)}/forgive`);
          return body.forgiven ? "forgiven" : "nothing to forgive";
        })}
      />
    </div>
    <${Logs} job=${job} node=${node} />
  </aside>`;
}

export function JobPage({ job, path, task }: { job: string; path: readonly string[]; task: string | undefined }): View {
  const parent = path.at(-1);
  const [extra, setExtra] = useState<{ key: string; nodes: ShardGroup[]; next: string | null }>({
    key: "",
    nodes: [],
    next: null,
  });
  const key = `${job}/${path.join("/")}`;
  const shards = useLoad(() => get<ShardsAnswer>(`/jobs/${segment(job)}/shards`, { parent }), [key], 3000);
  const data = shards.data;
  const more = extra.key === key ? extra : { key, nodes: [], next: data?.nextCursor ?? null };
  const nodes = [...(data?.nodes ?? []), ...more.nodes];
  const atTasks = data !== undefined && data.level === data.levelForTasks;
  const total = new Map<string, number>();
  for (const g of nodes) for (const [k, n] of countByCategory(g.counts)) total.set(k, (total.get(k) ?? 0) + n);
  const loadMore = async () => {
    if (!more.next) return undefined;
    const page = await get<ShardsAnswer>(`/jobs/${segment(job)}/shards`, { parent, cursor: more.next });
    setExtra({ key, nodes: [...more.nodes, ...page.nodes], next: page.nextCursor });
    return undefined;
  };
  return html`<section aria-labelledby="job-title">
    <h2 id="job-title">Job ${job}</h2>
    <nav class="crumbs" aria-label="Drill-down path">
      <a href=${href("jobs")}>Jobs</a> › <a href=${href("jobs", [job])}>${job}</a>
      ${path.map((node, i) => html` › <a href=${href("jobs", [job, ...path.slice(0, i + 1)])}>${node}</a>`)}
    </nav>
    ${shards.error !== undefined && html`<${ErrorBox} error=${shards.error} />`}
    ${
      data &&
      html`<p>
          ${`Level ${data.level} (${plural(data.total, "node")}${parent ? ` under ${parent}` : ""}; tasks run on level ${data.levelForTasks}). ${atTasks ? "Choose a task to see it." : "Choose a node to drill down."}`}
        </p>
        <${StatusBar} counts=${total} label=${`Tasks shown`} />
        <${Legend} />`
    }
    <div class="grid-and-task">
      <ul class=${atTasks ? "grid tasks" : "grid groups"} aria-label=${data ? `Nodes of level ${data.level}` : "Nodes"}>
        ${nodes.map((g) => {
          if (atTasks) {
            const cat = category(taskCategory(g));
            return html`<li key=${g.name}>
              <a
                class=${`cell st-${cat.key}${task === g.name ? " selected" : ""}`}
                data-node=${g.name}
                data-status=${cat.key}
                href=${href("jobs", [job, ...path], { task: g.name })}
                title=${`${g.name}: ${cat.label}`}
                aria-current=${task === g.name ? "true" : undefined}
                ><span aria-hidden="true">${cat.symbol}</span> ${g.name}<span class="sr-only">: ${cat.label}</span></a
              >
            </li>`;
          }
          const counts = countByCategory(g.counts);
          return html`<li key=${g.name} class="group">
            <a class="cell group-cell" data-node=${g.name} href=${href("jobs", [job, ...path, g.name])}
              >${g.name}${g.enabled ? "" : " (disabled)"}</a
            >
            <${StatusBar} counts=${counts} label=${`Tasks under ${g.name}`} />
          </li>`;
        })}
      </ul>
      ${task !== undefined && html`<${TaskPanel} job=${job} node=${task} onChange=${shards.reload} />`}
    </div>
    ${more.next && html`<${ActionButton} label=${`Show more (${nodes.length} of ${data?.total ?? 0})`} run=${loadMore} />`}
  </section>`;
}
