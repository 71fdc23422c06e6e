// Public surface of lib/config: parse Bistro config JSON into the model (lib/model/config.ts),
// validate single jobs, explain idleness, and write the model back as Bistro JSON.
export { parseConfig, type ConfigParseResult } from "./parse";
export { parseSettings, SETTINGS_KEY, type SettingsParseResult } from "./settings";
export { parseJob, defaultJobResources, JOB_PREFIX, type JobParseResult } from "./job";
export { withDependencyCycleErrors } from "./dependencies";
export { filterRegex, isEmptyFilter } from "./filters";
export { idleReasons } from "./idle";
export { formatIssue } from "./issues";
export { serializeConfig, serializeJob, serializeSettings } from "./serialize";
