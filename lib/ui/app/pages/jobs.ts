// The jobs page: every job with its stacked status bar (Bistro's histogram at the job's level),
// its errors and idle reasons, enabled, owner and priority; and the actions on it: enable or
// disable, forgive, kill its running tasks.
import { bistro, call, dataOf, get, segment } from "../client";
import { ActionButton, ErrorBox, Legend, plural, StatusBar, useLoad } from "../components";
import { html, type View } from "../html";
import { href } from "../route";
import { countByCategory } from "../status";

export interface JobJson {
  enabled?: boolean;
  owner?: string;
  priority?: number;
  level_for_tasks?: string;
}

export interface JobsOverview {
  jobs: Record<string, JobJson>;
  histograms: Record<string, Record<string, Record<string, number>>>;
  errors: Record<string, string>;
  running: Record<string, Record<string, unknown>>;
}

/** One Bistro request: jobs, histograms, errors and running tasks, from one snapshot. */
export async function loadOverview(): Promise<JobsOverview> {
  const answer = await bistro({
    jobs: { handler: "jobs" },
    histogram: { handler: "histogram" },
    errors: { handler: "errors" },
    running: { handler: "running_tasks" },
  });
  return {
    jobs: dataOf(answer, "jobs") as Record<string, JobJson>,
    histograms: (dataOf(answer, "histogram") as { histograms: JobsOverview["histograms"] }).histograms,
    errors: dataOf(answer, "errors") as Record<string, string>,
    running: dataOf(answer, "running") as JobsOverview["running"],
  };
}

/** The reasons in the `errors` handler's "Scheduler" entry that name this job. */
function reasonsFor(errors: Record<string, string>, job: string): string[] {
  return (errors.Scheduler ?? "").split(".\n").filter((line) => line.includes(`job "${job}"`));
}

interface StoredConfig {
  version: number;
  config: Record<string, unknown>;
}

/** Saves the job's stored JSON with `enabled` set, on the config version it was read from. */
async function setEnabled(job: string, enabled: boolean): Promise<string> {
  const stored = await get<StoredConfig>("/config");
  const current = stored.config[`bistro_job->${job}`];
  if (typeof current !== "object" || current === null) throw new Error(`Job ${job} is not in the stored config`);
  await call("PUT", `/jobs/${segment(job)}`, {
    body: { ...(current as Record<string, unknown>), enabled },
    headers: { "if-match": `"${stored.version}"` },
  });
  return enabled ? "enabled" : "disabled";
}

async function forgiveJob(job: string): Promise<string> {
  const { body } = await call<{ forgiven: number }>("POST", `/jobs/${segment(job)}/forgive`);
  return `forgave ${plural(body.forgiven, "task")}`;
}

export async function killTasks(job: string, nodes: readonly string[]): Promise<string> {
  const results = await Promise.allSettled(
    nodes.map((node) => call("POST", `/tasks/${segment(job)}/${segment(node)}/kill`)),
  );
  const failed = results.filter((r) => r.status === "rejected").length;
  return `kill sent to ${plural(nodes.length - failed, "task")}${failed > 0 ? `, ${failed} failed` : ""}`;
}

function JobRow({
  name,
  job,
  overview,
  reload,
}: {
  name: string;
  job: JobJson;
  overview: JobsOverview;
  reload: () => void;
}): View {
  const level = job.level_for_tasks ?? "";
  const counts = countByCategory(overview.histograms[name]?.[level] ?? {});
  const runningNodes = Object.keys(overview.running[name] ?? {});
  const error = overview.errors[`Job ${name}`];
  const reasons = reasonsFor(overview.errors, name);
  const after = (run: () => Promise<string>) => async () => {
    const text = await run();
    reload();
    return text;
  };
  return html`<li class="job" data-job=${name}>
    <div class="job-head">
      <h3><a href=${href("jobs", [name])}>${name}</a></h3>
      <span class=${job.enabled === true ? "badge on" : "badge off"}
        >${job.enabled === true ? "● enabled" : "○ disabled"}</span
      >
      <span class="meta">owner <b>${job.owner ?? "–"}</b></span>
      <span class="meta">priority <b>${job.priority ?? "–"}</b></span>
      <span class="meta">level <b>${level}</b></span>
    </div>
    <${StatusBar} counts=${counts} label=${`Tasks of ${name}`} />
    ${error !== undefined && html`<p class="job-error" role="alert">✗ invalid: ${error}</p>`}
    ${reasons.map((r) => html`<p class="idle">ⓘ ${r}</p>`)}
    <div class="actions">
      <${ActionButton}
        label=${job.enabled === true ? "Disable" : "Enable"}
        run=${after(() => setEnabled(name, job.enabled !== true))}
      />
      <${ActionButton}
        label="Forgive"
        title="Failed tasks may run again; backoffs are cleared"
        run=${after(() => forgiveJob(name))}
      />
      <${ActionButton}
        label=${`Kill running (${runningNodes.length})`}
        disabled=${runningNodes.length === 0}
        confirm=${`Kill ${plural(runningNodes.length, "running task")} of ${name}?`}
        run=${after(() => killTasks(name, runningNodes))}
      />
    </div>
  </li>`;
}

export function JobsPage(): View {
  const overview = useLoad(loadOverview, [], 2000);
  const data = overview.data;
  const names = data ? Object.keys(data.jobs).sort() : [];
  const global = data
    ? (data.errors.Scheduler ?? "").split(".\n").filter((l) => l !== "" && !l.startsWith('job "'))
    : [];
  return html`<section aria-labelledby="jobs-title">
    <h2 id="jobs-title">Jobs</h2>
    ${overview.error !== undefined && html`<${ErrorBox} error=${overview.error} />`}
    ${data?.errors.Nodes !== undefined && html`<p class="job-error" role="alert">✗ nodes: ${data.errors.Nodes}</p>`}
    ${global.map((r) => html`<p class="idle">ⓘ ${r}</p>`)}
    <${Legend} />
    ${data && names.length === 0 && html`<p>No jobs are configured yet: add one on the <a href="#/config">config</a> page.</p>`}
    <ul class="jobs">
      ${data && names.map((name) => html`<${JobRow} key=${name} name=${name} job=${data.jobs[name]} overview=${data} reload=${overview.reload} />`)}
    </ul>
  </section>`;
}
