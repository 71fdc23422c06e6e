// What `sous apply --dry-run` and the web UI's config page report: the difference between the
// stored Bistro document and a new one, as the user wrote them: jobs added, removed or changed
// (with the keys that differ), and the bistro_settings keys that differ. Key order in objects does not count as a change.
import { JOB_PREFIX } from "./job";
import { SETTINGS_KEY } from "./settings";

export interface ConfigDiff {
  settingsChanged: string[];
  jobsAdded: string[];
  jobsRemoved: string[];
  /** Job name -> the keys of its object that differ. */
  jobsChanged: Record<string, string[]>;
}

type Document = Readonly<Record<string, unknown>>;

/** JSON with object keys sorted, so two equal values give one text. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === "object" && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

const asObject = (value: unknown): Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};

/** Keys of two objects whose values differ (present in one only, or different). */
function changedKeys(before: unknown, after: unknown): string[] {
  const a = asObject(before);
  const b = asObject(after);
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.filter((key) => canonical(a[key]) !== canonical(b[key]));
}

function jobsOf(document: Document): Map<string, unknown> {
  const jobs = new Map<string, unknown>();
  for (const [key, value] of Object.entries(document)) {
    if (key.startsWith(JOB_PREFIX)) jobs.set(key.slice(JOB_PREFIX.length), value);
  }
  return jobs;
}

export function diffConfigs(stored: Document, next: Document): ConfigDiff {
  const before = jobsOf(stored);
  const after = jobsOf(next);
  const jobsChanged: Record<string, string[]> = {};
  for (const [name, job] of after) {
    if (!before.has(name)) continue;
    const keys = changedKeys(before.get(name), job);
    if (keys.length > 0) Object.defineProperty(jobsChanged, name, { value: keys, enumerable: true });
  }
  return {
    settingsChanged: changedKeys(stored[SETTINGS_KEY], next[SETTINGS_KEY]),
    jobsAdded: [...after.keys()].filter((name) => !before.has(name)).sort(),
    jobsRemoved: [...before.keys()].filter((name) => !after.has(name)).sort(),
    jobsChanged,
  };
}

export function isEmptyDiff(diff: ConfigDiff): boolean {
  return (
    diff.settingsChanged.length === 0 &&
    diff.jobsAdded.length === 0 &&
    diff.jobsRemoved.length === 0 &&
    Object.keys(diff.jobsChanged).length === 0
  );
}

/** The diff as lines: `+ job`, `- job`, `~ job (keys)`, `~ bistro_settings.key`. */
export function formatDiff(diff: ConfigDiff): string[] {
  if (isEmptyDiff(diff)) return ["No changes."];
  return [
    ...diff.settingsChanged.map((key) => `~ ${SETTINGS_KEY}.${key}`),
    ...diff.jobsAdded.map((name) => `+ job ${name}`),
    ...diff.jobsRemoved.map((name) => `- job ${name}`),
    ...Object.entries(diff.jobsChanged).map(([name, keys]) => `~ job ${name} (${keys.join(", ")})`),
  ];
}
