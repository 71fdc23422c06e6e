// The entry point for a whole Bistro config document (FileConfigLoader's format): bistro_settings plus `bistro_job->NAME` keys. Bad settings reject the whole document with
// every error listed; a bad job is kept, marked invalid, while the others run. Never throws.
import type { Config, ConfigIssue, Job } from "../model/config";
import { withDependencyCycleErrors } from "./dependencies";
import { capIssues, describeValue, isPlainObject, IssueSink } from "./issues";
import { JOB_PREFIX, parseJob } from "./job";
import {
  JSON_DEPTH_MESSAGE,
  jobNameProblem,
  jsonDepthProblem,
  MAX_CONFIG_ENTRY_BYTES,
  MAX_JOBS,
  overLimit,
  utf8Bytes,
  valueDepthExceeds,
} from "./limits";
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
    const tooDeep = jsonDepthProblem(input);
    if (tooDeep) {
      sink.error("", tooDeep);
      return { ok: false, errors: sink.errors, warnings: sink.warnings };
    }
    try {
      document = JSON.parse(input);
    } catch (error) {
      sink.error("", `invalid JSON: ${jsonErrorReason(error, input)}`);
      return { ok: false, errors: sink.errors, warnings: sink.warnings };
    }
  }
  if (typeof input !== "string" && valueDepthExceeds(document)) {
    sink.error("", JSON_DEPTH_MESSAGE);
    return { ok: false, errors: sink.errors, warnings: sink.warnings };
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
  const jobValues = readJobKeys(document, sink);
  const limitErrors = checkLimits(document, jobValues);
  if (limitErrors.length > 0) return { ok: false, errors: capIssues(limitErrors), warnings: capIssues(sink.warnings) };
  const settingsResult = parseSettings(document[SETTINGS_KEY]);
  if (!settingsResult.ok) {
    return {
      ok: false,
      errors: capIssues(settingsResult.errors),
      warnings: capIssues([...settingsResult.warnings, ...sink.warnings]),
    };
  }
  const { settings } = settingsResult;
  const names = new Set(jobValues.keys());
  const jobs: [string, Job][] = [];
  const jobWarnings: ConfigIssue[] = [];
  for (const [name, value] of jobValues) {
    const { job, warnings } = parseJob(settings, name, value, names);
    jobs.push([name, job]);
    for (const warning of warnings) jobWarnings.push(warning);
  }
  return {
    ok: true,
    config: {
      settings,
      // Object.fromEntries: own properties even for a job named `__proto__`, and fast for many jobs.
      jobs: withDependencyCycleErrors(Object.fromEntries(jobs)),
      warnings: capIssues([...settingsResult.warnings, ...sink.warnings, ...jobWarnings]),
    },
  };
}

/**
 * The limits a whole document must meet (number of jobs, job names, entry sizes), checked
 * before anything else is parsed; any breach refuses the document.
 */
function checkLimits(document: Record<string, unknown>, jobValues: ReadonlyMap<string, unknown>): ConfigIssue[] {
  const errors: ConfigIssue[] = [];
  if (jobValues.size > MAX_JOBS) {
    errors.push({ path: "", message: overLimit("the number of jobs", jobValues.size, "MAX_JOBS") });
    return errors;
  }
  for (const name of jobValues.keys()) {
    const problem = jobNameProblem(name);
    if (problem) errors.push({ path: `${JOB_PREFIX}${name.slice(0, 40)}`, message: problem });
  }
  for (const [key, value] of Object.entries(document)) {
    if (key !== SETTINGS_KEY && !jobValues.has(key.slice(JOB_PREFIX.length))) continue;
    // Measured as the store measures it: `{"key":value}`.
    const bytes = utf8Bytes(JSON.stringify(key)) + utf8Bytes(JSON.stringify(value)) + 3;
    if (bytes > MAX_CONFIG_ENTRY_BYTES) {
      errors.push({
        path: key.slice(0, JOB_PREFIX.length + 40),
        message: overLimit("this entry's size as JSON", bytes, "MAX_CONFIG_ENTRY_BYTES", "bytes"),
      });
    }
  }
  return errors;
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
