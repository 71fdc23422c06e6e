// How a task is launched, as Bistro's task protocol says (docs/task-protocol.md): its argv, its
// environment (the worker's, less its credentials, plus the SOUS_* variables), its working
// directory, and the prefix that moves it into its cgroup. Pure; lib/worker/task-process.ts runs it.

import { join } from "node:path";

/**
 * The argv prefix that moves the task into its cgroup before it runs any of its own code, so even
 * what it forks at once is inside. A failure is said on the task's stderr (it then has no status).
 */
export function cgroupJoinPrefix(procsFile: string): string[] {
  const script =
    'echo $$ 2>/dev/null >"$0" || { echo "sous: cannot move the task into its cgroup ($0)" >&2; exit 125; }; exec "$@"';
  return ["/bin/sh", "-c", script, procsFile];
}

/** argv exactly as Bistro builds it: the command, then node, status pipe path, job JSON. No shell. */
export function taskArgv(
  jobCommand: readonly string[],
  workerCommand: string,
  nodeName: string,
  statusPipePath: string,
  jobJson: string,
): string[] {
  const command = jobCommand.length > 0 ? jobCommand : [workerCommand];
  return [...command, nodeName, statusPipePath, jobJson];
}

/**
 * The worker's AWS credentials, which tasks do not inherit (docs/security.md): static keys, the
 * ECS container-credentials endpoint and web-identity settings. Region and endpoints stay.
 */
export const WORKER_CREDENTIAL_VARIABLES: readonly string[] = [
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_SECURITY_TOKEN",
  "AWS_CREDENTIAL_EXPIRATION",
  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
  "AWS_CONTAINER_CREDENTIALS_FULL_URI",
  "AWS_CONTAINER_AUTHORIZATION_TOKEN",
  "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
  "AWS_WEB_IDENTITY_TOKEN_FILE",
  "AWS_ROLE_ARN",
  "AWS_ROLE_SESSION_NAME",
];

/** Environment variables Sous adds to the worker's own, less its credentials (docs/task-protocol.md). */
export function taskEnv(
  base: NodeJS.ProcessEnv,
  task: { jobName: string; nodeName: string; attempt: string; workerId: string },
): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(
    Object.entries(base).filter(([name]) => !WORKER_CREDENTIAL_VARIABLES.includes(name)),
  );
  return {
    ...inherited,
    SOUS_JOB: task.jobName,
    SOUS_NODE: task.nodeName,
    SOUS_ATTEMPT: task.attempt,
    SOUS_WORKER_ID: task.workerId,
  };
}

/**
 * `<dataDir>/jobs/<jobName>`, as in Bistro (a "/" in a job name nests directories). A name that could
 * leave `<dataDir>/jobs` is refused.
 */
export function jobWorkingDir(dataDir: string, jobName: string): string {
  if (jobName === "" || jobName.includes("\0") || jobName.split("/").some((part) => part === "..")) {
    throw new Error(`Job name ${JSON.stringify(jobName)} cannot be used as a working directory`);
  }
  return join(dataDir, "jobs", jobName);
}
