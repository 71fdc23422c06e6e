// Bistro's first-run demo as the end-to-end and browser tests use it: the `simple` config, the
// demo task, a slowed-down demo task, and a poll-until helper for what a deployment does later.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const ROOT = join(__dirname, "..", "..");
export const SIMPLE = JSON.parse(readFileSync(join(ROOT, "events", "bistro", "simple.json"), "utf8")) as Record<
  string,
  unknown
>;
export const DEMO_TASK = join(ROOT, "events", "bistro", "demo_bistro_task.sh");
/** Prints `slow task on NODE`, sleeps $SLOW_TASK_SECONDS (default 2), reports done. */
export const SLOW_TASK = join(ROOT, "test", "fixtures", "tasks", "slow-demo.sh");

/** Polls `check` every `intervalMs` until it returns a value; throws naming `what` after `attempts`. */
export async function until<T>(
  check: () => Promise<T | undefined> | T | undefined,
  what: string,
  attempts = 300,
  intervalMs = 100,
): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}
