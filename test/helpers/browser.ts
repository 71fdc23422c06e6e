// Debian's Chromium driven by playwright-core for the browser tests and the UI benchmark: never
// a downloaded browser. Launched headless with networking that would reach the internet turned
// off and a fresh profile per launch; a missing Chromium fails with the command that installs it.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";

export const CHROMIUM_PATH = process.env.SOUS_CHROMIUM ?? "/usr/bin/chromium";
export const ARTIFACTS_DIR = join(__dirname, "..", "..", "test-artifacts", "ui");

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface Browser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

export async function launchChromium(viewport = { width: 1200, height: 760 }): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium is missing at ${CHROMIUM_PATH}: the browser tests drive Debian's Chromium. Install it with ` +
        "`sudo apt-get update && sudo apt-get install -y chromium` (or set SOUS_CHROMIUM to a Chromium binary).",
    );
  }
  const profile = mkdtempSync(join(tmpdir(), "sous-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
  });
  // The machines running tests are shared: waits bound hangs, not speed.
  context.setDefaultTimeout(120_000);
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Saves a screenshot under test-artifacts/ui/NAME.png. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const path = join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path });
  return path;
}
