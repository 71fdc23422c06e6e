// The web UI in Debian's Chromium against a real `sous local` (emulators, rounds, workers running
// Bistro's demo task, S3 logs), served on its own port: the demo's jobs with their status bars,
// drilling into a job's nodes, a task's logs, kill and forgive, and a config edit with a typo.
// Screenshots go to test-artifacts/ui/.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLocalDeployment, type LocalDeployment } from "../../lib/local/deployment";
import { uniqueName } from "../helpers/aws";
import { launchChromium, screenshot, type Browser } from "../helpers/browser";
import { DEMO_TASK, SIMPLE, SLOW_TASK, until } from "../helpers/demo";

// Chromium, the emulators and the workers share a busy machine: bound hangs, not speed.
jest.setTimeout(180_000);

let deployment: LocalDeployment;
let browser: Browser;

async function api<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const response = await fetch(`${deployment.apiUrl}${path}`, {
    method,
    headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return (await response.json()) as T;
}

interface TaskView {
  node: string;
  state: string;
  label: string;
  backoffUntilSec?: number;
  running?: { attempt: string };
}
const tasksOf = async (job: string) => (await api<{ tasks: TaskView[] }>("GET", `/tasks?job=${job}`)).tasks;

beforeAll(async () => {
  process.env.SLOW_TASK_SECONDS = "600";
  browser = await launchChromium();
  deployment = await startLocalDeployment({
    name: uniqueName("ui"),
    workers: 2,
    workerCommand: DEMO_TASK,
    dataDir: mkdtempSync(join(tmpdir(), "sous-ui-")),
    port: 0,
    uiPort: 0,
    instanceName: "scheduler",
    config: SIMPLE,
  });
  // Kill asks for confirmation; a keyboard or mouse user answers it, the test accepts it.
  browser.page.on("dialog", (dialog) => void dialog.accept());
});

afterAll(async () => {
  await browser.close();
  await deployment.stop();
});

describe("the web UI on sous local", () => {
  it("lists the demo's jobs with their status bars", async () => {
    const { page } = browser;
    expect(deployment.uiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await page.goto(deployment.uiUrl!);
    const job = page.locator('[data-job="simple_job"]');
    await job.waitFor();
    // All 4 of the demo's tasks end done; the bar says so in colour, symbol and words.
    await job.locator('.seg[data-status="done"]', { hasText: "4" }).waitFor({ timeout: 120_000 });
    expect(await job.locator(".status-text").textContent()).toBe("4 ✓ done");
    expect(await job.textContent()).toContain("owner test");
    expect(await job.locator(".badge").textContent()).toContain("enabled");
    await screenshot(page, "jobs");
  });

  it("drills from a job into its nodes, level by level, and shows a task with the demo's output", async () => {
    const { page } = browser;
    await page.locator('[data-job="simple_job"] h3 a').click();
    const groups = page.locator(".grid.groups .group-cell");
    await groups.first().waitFor();
    expect(await groups.allTextContents()).toEqual(["node1", "node2"]);
    await screenshot(page, "job-levels");

    // Keyboard only: focus node1's link and press Enter.
    await page.locator('.group-cell[data-node="node1"]').focus();
    await page.keyboard.press("Enter");
    const cells = page.locator(".grid.tasks .cell");
    await cells.first().waitFor();
    expect(await cells.evaluateAll((els) => els.map((e) => `${e.dataset.node}:${e.dataset.status}`))).toEqual([
      "node11:done",
      "node12:done",
    ]);
    expect(await cells.first().textContent()).toContain("done"); // the status in words, not colour alone

    await page.locator('.cell[data-node="node11"]').click();
    const stdout = page.locator('pre[data-log="stdout"]');
    await page.waitForFunction(
      () => document.querySelector('pre[data-log="stdout"]')?.textContent.includes("demo task for node node11"),
      undefined,
      { timeout: 60_000 },
    );
    expect(await stdout.textContent()).toContain("demo task for node node11: status to /dev/fd/3, task JSON {");
    expect(await page.locator('pre[data-log="stderr"]').textContent()).toContain("demo task: this line goes to stderr");
    expect(await page.locator(".task .facts").textContent()).toContain("worker");
    await screenshot(page, "task");
  });

  it("kills a job's running task and forgives it, and the API reports both", async () => {
    const { page } = browser;
    // A slow job on one node, so there is something to kill.
    await api("PUT", "/jobs/slow_job", {
      owner: "ops",
      enabled: true,
      priority: 2,
      command: [SLOW_TASK],
      filters: { level2: { whitelist: ["node11"] } },
    });
    await until(async () => ((await tasksOf("slow_job"))[0]?.running ? true : undefined), "slow_job to run", 600, 200);

    await page.goto(`${deployment.uiUrl!}/#/running`);
    await page.locator('[data-table="running"] td', { hasText: "slow_job" }).waitFor();
    await page.locator('[data-table="workers"] td', { hasText: "healthy" }).first().waitFor();
    await screenshot(page, "running");

    await page.goto(`${deployment.uiUrl!}/#/jobs`);
    const job = page.locator('[data-job="slow_job"]');
    const kill = job.getByRole("button", { name: "Kill running (1)" });
    await kill.waitFor();
    await kill.click();
    await job.locator(".outcome.ok", { hasText: "kill sent to 1 task" }).waitFor();
    const killed = await until(
      async () => {
        const [task] = await tasksOf("slow_job");
        return task && !task.running ? task : undefined;
      },
      "the killed task to end",
      600,
      200,
    );
    expect(killed.label).toBe("incomplete_backoff");
    expect(killed.backoffUntilSec).toBeGreaterThan(Date.now() / 1000);

    await job.getByRole("button", { name: "Forgive" }).click();
    await job.locator(".outcome.ok", { hasText: "forgave 1 task" }).waitFor();
    await screenshot(page, "jobs-acting");
    // Forgiven: the backoff is gone, so the task runs again at once.
    const again = await until(
      async () => {
        const [task] = await tasksOf("slow_job");
        return task?.running ? task : undefined;
      },
      "the forgiven task to run again",
      600,
      200,
    );
    expect(again.state).toBe("running");

    await page.goto(`${deployment.uiUrl!}/#/logs?job=slow_job&follow=1`);
    await page.locator('[data-table="logs"] td', { hasText: "slow task on node11" }).first().waitFor();
    await screenshot(page, "logs");
    await api("DELETE", "/jobs/slow_job");
  });

  it("shows a typo in a config edit, applies nothing, and refuses an edit of a replaced version", async () => {
    const { page } = browser;
    const before = await api<{ version: number; config: Record<string, unknown> }>("GET", "/config");
    await page.goto(`${deployment.uiUrl!}/#/config`);
    const editor = page.locator("#config-editor");
    await page.locator(`[data-version="${before.version}"]`).waitFor();
    const text = await editor.inputValue();
    expect(text).toContain('"limit": 3');

    await editor.fill(text.replace('"limit": 3', '"limit": "3x"'));
    const problems = page.locator('[data-check="problems"]');
    await problems.waitFor();
    expect(await problems.textContent()).toContain("bistro_settings.resources.instance.concurrency.limit");
    expect(await page.getByRole("button", { name: "Apply" }).isDisabled()).toBe(true);
    await screenshot(page, "config-typo");
    expect((await api<{ version: number }>("GET", "/config")).version).toBe(before.version);

    // A valid edit shows its dry-run diff; another writer then replaces the version it was made on.
    await editor.fill(text.replace('"owner": "test"', '"owner": "ui"'));
    await page.locator('[data-check="diff"]', { hasText: "~ job simple_job (owner)" }).waitFor();
    await screenshot(page, "config-diff");
    const other = await api<{ version: number }>("PUT", "/config", before.config);
    expect(other.version).toBe(before.version + 1);
    await page.getByRole("button", { name: "Apply" }).click();
    const refused = page.locator('[data-outcome="refused"]');
    await refused.waitFor();
    expect(await refused.textContent()).toContain("changed since you loaded");
    const after = await api<{ version: number; config: Record<string, { owner?: string }> }>("GET", "/config");
    expect(after.version).toBe(other.version);
    expect(after.config["bistro_job->simple_job"]?.owner).toBe("test");

    // The running config is the one stored: its job still answers Bistro's queries.
    const jobs = await api<{ a: { data: Record<string, { owner: string }> } }>("POST", "/", { a: { handler: "jobs" } });
    expect(jobs.a.data.simple_job?.owner).toBe("test");
  });
});
