// Why a config would start nothing, or nothing for some jobs, in words a user can act on.
// Bistro only logs "Not running because enabled is false"; Sous surfaces these through the
// scheduler's status and the API so a silent config (enabled defaults to false!) is explained.
import { INSTANCE_LEVEL, jobCanRun, WORKER_LEVEL } from "../model/config";
import type { Config, Job } from "../model/config";
import { formatIssue } from "./issues";

/** Reasons, most important first; empty when nothing in the config itself stops work. */
export function idleReasons(config: Config): string[] {
  const reasons: string[] = [];
  const { settings } = config;
  if (!settings.enabled) {
    reasons.push("bistro_settings.enabled is false (Bistro's default): no task will start; set it to true");
  }
  const jobs = Object.values(config.jobs);
  if (jobs.length === 0) reasons.push('no jobs are defined: add "bistro_job->NAME" entries');
  for (const job of jobs) {
    const reason = jobBlocker(job);
    if (reason) reasons.push(reason);
  }
  const runnable = jobs.filter(jobCanRun);
  for (const job of runnable) {
    for (const dep of job.dependsOn) {
      const other = Object.hasOwn(config.jobs, dep) ? config.jobs[dep] : undefined;
      if (other && !jobCanRun(other)) {
        const why = other.errors.length > 0 ? "invalid" : "disabled";
        reasons.push(
          `job "${job.name}" depends on job "${dep}", which is ${why}: ` +
            `"${job.name}" runs on a node only after "${dep}" is done there`,
        );
      }
    }
  }
  if (settings.nodeSources.length === 0) {
    const levels = [...new Set(runnable.map((job) => job.levelForTasks))].filter(
      (level) => level !== INSTANCE_LEVEL && level !== WORKER_LEVEL,
    );
    if (levels.length > 0) {
      reasons.push(
        `bistro_settings.nodes.node_sources is empty: only the instance node exists, so jobs on level ` +
          `${levels.map((level) => `"${level}"`).join(", ")} have no tasks`,
      );
    }
  }
  return reasons;
}

function jobBlocker(job: Job): string | undefined {
  if (job.errors.length > 0) {
    const [first] = job.errors;
    const more = job.errors.length > 1 ? ` (and ${job.errors.length - 1} more)` : "";
    return `job "${job.name}" is invalid and never runs: ${first ? formatIssue(first) : ""}${more}`;
  }
  if (!job.enabled) return `job "${job.name}" is disabled ("enabled": false): it starts no tasks`;
  if (job.levelForTasks === WORKER_LEVEL) {
    return `job "${job.name}" has level_for_tasks "worker", which has no nodes: it starts no tasks`;
  }
  return undefined;
}
