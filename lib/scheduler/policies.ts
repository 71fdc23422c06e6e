// The four scheduling policies: in which order the jobs' candidate lists are
// tried. Lists are consumed from the end; every candidate is tried at most once per round.
import type { SchedulerPolicyName } from "../model/config";
import { pickWeighted, type Rng } from "./random";
import type { TryResult } from "./workers";

/** One job's candidates for the round, taken one by one (lib/scheduler/candidates.ts). */
export interface JobCandidates {
  /** The job's number in the round (passed back to `tryTask`). */
  readonly slot: number;
  readonly priority: number;
  /** Candidates not taken yet. */
  readonly length: number;
  /** Takes the next candidate (one less left); only while `length > 0`. */
  take(): number;
}

export type TryTask = (slot: number, node: number) => TryResult;

/** Runs the policy over the jobs (in the round's shuffled order); returns how many tasks started. */
export function runPolicy(policy: SchedulerPolicyName, jobs: JobCandidates[], tryTask: TryTask, rng: Rng): number {
  switch (policy) {
    case "roundrobin":
      return roundRobin([...jobs], tryTask);
    case "ranked_priority":
      return eachJobFully(
        [...jobs].sort((a, b) => b.priority - a.priority),
        tryTask,
      );
    case "long_tail":
      return eachJobFully(
        [...jobs].sort((a, b) => a.length - b.length),
        tryTask,
      );
    case "randomized_priority":
      return randomizedPriority([...jobs], tryTask, rng);
  }
}

/** Pops the job's candidates until one starts or the list ends; null means the round must stop. */
function startOne(job: JobCandidates, tryTask: TryTask): boolean | null {
  while (job.length > 0) {
    const result = tryTask(job.slot, job.take());
    if (result === "ran") return true;
    if (result === "stop") return null;
  }
  return false;
}

/** Passes over the jobs, each starting at most one task per pass, until every list is empty. */
function roundRobin(jobs: JobCandidates[], tryTask: TryTask): number {
  let started = 0;
  while (jobs.length > 0) {
    for (let k = 0; k < jobs.length;) {
      const job = jobs[k] as JobCandidates;
      if (job.length === 0) {
        jobs.splice(k, 1);
        continue;
      }
      const ran = startOne(job, tryTask);
      if (ran === null) return started;
      if (ran) started++;
      k++;
    }
  }
  return started;
}

/** Each job in turn tries all its candidates (ranked_priority and long_tail). */
function eachJobFully(jobs: JobCandidates[], tryTask: TryTask): number {
  let started = 0;
  for (const job of jobs) {
    while (job.length > 0) {
      const result = tryTask(job.slot, job.take());
      if (result === "ran") started++;
      else if (result === "stop") return started;
    }
  }
  return started;
}

/** Picks a job with probability priority / total, lets it start one task; empty jobs leave the draw. */
function randomizedPriority(jobs: JobCandidates[], tryTask: TryTask, rng: Rng): number {
  let started = 0;
  let weights = jobs.map((job) => job.priority);
  while (jobs.length > 0) {
    const k = pickWeighted(rng, weights);
    const job = jobs[k] as JobCandidates;
    if (job.length === 0) {
      jobs.splice(k, 1);
      weights = jobs.map((j) => j.priority);
      continue;
    }
    const ran = startOne(job, tryTask);
    if (ran === null) return started;
    if (ran) started++;
  }
  return started;
}
