// Config test helpers: the Bistro config fixtures under events/bistro/, and small documents to
// vary one setting at a time.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { formatIssue, parseConfig } from "../../lib/config";
import type { Config, ConfigIssue } from "../../lib/model/config";

const FIXTURES = join(__dirname, "..", "..", "events", "bistro");

/** The text of `events/bistro/<name>`. */
export function bistroFixture(name: string): string {
  return readFileSync(join(FIXTURES, name), "utf8");
}

/** Parses and fails the test, listing the errors, if the config is rejected. */
export function parseValid(input: unknown): Config {
  const result = parseConfig(input);
  if (!result.ok) throw new Error(`config rejected:\n${result.errors.map(formatIssue).join("\n")}`);
  return result.config;
}

/** Parses and fails the test if the config is accepted. */
export function parseRejected(input: unknown): { errors: ConfigIssue[]; warnings: ConfigIssue[] } {
  const result = parseConfig(input);
  if (result.ok) throw new Error("config was accepted");
  return { errors: result.errors, warnings: result.warnings };
}

/** `bistro_settings` with levels host > db, two hosts with two dbs each, no resources. */
export function baseSettings(): Record<string, unknown> {
  return {
    enabled: true,
    nodes: {
      levels: ["host", "db"],
      node_sources: [{ source: "manual", prefs: { host1: ["db11", "db12"], host2: ["db21", "db22"] } }],
    },
    resources: {},
  };
}

/** A document from settings (default `baseSettings()`) and jobs by name. */
export function configDocument(
  jobs: Record<string, unknown> = {},
  settings: Record<string, unknown> = baseSettings(),
): Record<string, unknown> {
  const document: Record<string, unknown> = { bistro_settings: settings };
  for (const [name, job] of Object.entries(jobs)) document[`bistro_job->${name}`] = job;
  return document;
}

/** `{path: message}` for compact assertions on issue lists. */
export function byPath(issues: readonly ConfigIssue[]): Record<string, string> {
  return Object.fromEntries(issues.map((issue) => [issue.path, issue.message]));
}
