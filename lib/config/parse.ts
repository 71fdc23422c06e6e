// The entry point for a whole Bistro config document (FileConfigLoader's format, BISTRO.md §1.1,
// §1.2): bistro_settings plus `bistro_job->NAME` keys. Bad settings reject the whole document with
// every error listed; a bad job is kept, marked invalid, while the others run. Never throws.
import type { Config, ConfigIssue, Job } from "../model/config";
import { withDependencyCycleErrors } from "./dependencies";
import { describeValue, isPlainObject, IssueSink, putEntry } from "./issues";
import { JOB_PREFIX, parseJob } from "./job";
import { parseSettings, SETTINGS_KEY } from "./settings";

export type ConfigParseResult =
  { ok: true; config: Config } | { ok: false; errors: ConfigIssue[]; warnings: ConfigIssue[] };

/**
 * Parses a config: JSON text (a string) or an already-parsed JSON value. Issues are located by
 * paths such as `bistro_settings.resources.host.cpu.limit` or `bistro_job->foo.backoff.2`.
 */
export function parseConfig(input: unknown): ConfigParseResult {
  const sink = new IssueSink();
  let document: unknown = input;
  if (typeof input === "string") {
    try {
      document = JSON.parse(input);
    } catch (error) {
      sink.error("", `invalid JSON: ${jsonErrorReason(error, input)}`);
      return { ok: false, errors: sink.errors, warnings: sink.warnings };
    }
  }
  if (!isPlainObject(document)) {
    sink.error(
      "",
      `expected a JSON object with "${SETTINGS_KEY}" and "${JOB_PREFIX}NAME" keys, found ${describeValue(document)}`,
    );
    return { ok: false, errors: sink.errors, warnings: sink.warnings };
  }
  if (!Object.hasOwn(document, SETTINGS_KEY)) {
    sink.error(SETTINGS_KEY, "missing bistro_settings property; expected an object");
    return { ok: false, errors: sink.errors, warnings: sink.warnings };
  }
  const settingsResult = parseSettings(document[SETTINGS_KEY]);
  const jobValues = readJobKeys(document, sink);
  if (!settingsResult.ok) {
    return { ok: false, errors: settingsResult.errors, warnings: [...settingsResult.warnings, ...sink.warnings] };
  }
  const { settings } = settingsResult;
  const names = [...jobValues.keys()];
  const jobs: Record<string, Job> = {};
  const jobWarnings: ConfigIssue[] = [];
  for (const [name, value] of jobValues) {
    const { job, warnings } = parseJob(settings, name, value, names);
    putEntry(jobs, name, job);
    jobWarnings.push(...warnings);
  }
  return {
    ok: true,
    config: {
      settings,
      jobs: withDependencyCycleErrors(jobs),
      warnings: [...settingsResult.warnings, ...sink.warnings, ...jobWarnings],
    },
  };
}

/** Job name -> raw job value, in document order; other keys become warnings. */
function readJobKeys(document: Record<string, unknown>, sink: IssueSink): Map<string, unknown> {
  const jobs = new Map<string, unknown>();
  for (const [key, value] of Object.entries(document)) {
    if (key === SETTINGS_KEY) continue;
    if (!key.startsWith(JOB_PREFIX)) {
      const hint = key.startsWith("bistro_job") ? ` (job keys look like "${JOB_PREFIX}NAME")` : "";
      sink.warn(key, `unknown key, ignored${hint}`);
      continue;
    }
    if (!isPlainObject(value)) {
      sink.warn(key, `a job must be an object, found ${describeValue(value)}; ignored (as Bistro does)`, value);
      continue;
    }
    jobs.set(key.slice(JOB_PREFIX.length), value);
  }
  return jobs;
}

/** JSON.parse's message, with the line and column when it only gives a character position. */
function jsonErrorReason(error: unknown, text: string): string {
  const reason = error instanceof Error ? error.message : String(error);
  const position = /at position (\d+)/.exec(reason)?.[1];
  if (position === undefined || /line \d+/.test(reason)) return reason;
  const before = text.slice(0, Number(position));
  const line = before.split("\n").length;
  const column = Number(position) - before.lastIndexOf("\n");
  return `${reason} (line ${line}, column ${column})`;
}
