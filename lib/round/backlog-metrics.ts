// The names of the backlog metrics each round publishes (CloudWatch embedded metric format) and
// the ECS worker service scales on: one place for the publisher (functions/scheduler-round.ts)
// and the alarms (infra/workers.ts), so the two cannot drift apart.
export const BACKLOG_NAMESPACE = "Sous";
/** The round function's Powertools service name, which Powertools adds as the `service` dimension. */
export const ROUND_SERVICE_NAME = "sous-scheduler-round";
/** Dimension naming the deployment (its queue prefix), so several deployments share an account. */
export const DEPLOYMENT_DIMENSION = "Deployment";
export const BACKLOG_METRICS = {
  /** Tasks that could start now but did not: no worker had room, or there are no workers. */
  runnablePending: "RunnablePendingTasks",
  /** Tasks running on workers. */
  running: "RunningTasks",
} as const;
