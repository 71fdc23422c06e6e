// Alarms and a dashboard. Lost workers and lease takeovers have no AWS metric: they come from
// metric filters on the round function's structured logs (lib/round/run-round.ts logs
// `{"event":"round", "lostWorkers":[...]}` after each round and `{"event":"lease-lost"}` when a
// round's lease was taken over).
import { Duration } from "aws-cdk-lib";
import type * as apigateway from "aws-cdk-lib/aws-apigateway";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import type * as ecs from "aws-cdk-lib/aws-ecs";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as sns from "aws-cdk-lib/aws-sns";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";

export const METRIC_NAMESPACE = "Sous";

export interface SousMonitoringProps {
  roundFunction: lambda.IFunction;
  roundLogGroup: logs.ILogGroup;
  ingestFunction: lambda.IFunction;
  apiFunction: lambda.IFunction;
  api: apigateway.RestApi;
  statusQueue: sqs.IQueue;
  deadLetterQueue: sqs.IQueue;
  workerService?: ecs.BaseService;
  /** Where alarms notify (ALARM and OK). Default: nowhere; the alarms still show in the console. */
  alarmTopic?: sns.ITopic;
  dashboard: boolean;
  /** Tells this deployment's log metrics apart from another's in the same account (namespace `Sous/<name>`). */
  deploymentName: string;
}

export class SousMonitoring extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly lostWorkers: cloudwatch.Metric;
  readonly leaseLost: cloudwatch.Metric;
  readonly dashboard?: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: SousMonitoringProps) {
    super(scope, id);
    const fiveMinutes = Duration.minutes(5);
    this.lostWorkers = this.logMetric(
      "LostWorkersFilter",
      props,
      "RoundsWithLostWorkers",
      logs.FilterPattern.all(
        logs.FilterPattern.stringValue("$.event", "=", "round"),
        logs.FilterPattern.exists("$.lostWorkers[0]"),
      ),
    );
    this.leaseLost = this.logMetric(
      "LeaseLostFilter",
      props,
      "LeaseLost",
      logs.FilterPattern.stringValue("$.event", "=", "lease-lost"),
    );

    this.alarm("DeadLetters", "Task ends could not be applied and were dead-lettered; read them from the DLQ.", {
      metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: "Maximum",
      }),
      threshold: 0,
    });
    this.alarm("RoundErrors", "The scheduling round failed; rounds stop starting tasks until it succeeds.", {
      metric: props.roundFunction.metricErrors({ period: fiveMinutes, statistic: "Sum" }),
      threshold: 0,
    });
    this.alarm("IngestErrors", "Status ingestion failed; task ends wait in the status queue.", {
      metric: props.ingestFunction.metricErrors({ period: fiveMinutes, statistic: "Sum" }),
      threshold: 0,
    });
    this.alarm("LostWorkers", "The scheduler declared workers lost (no heartbeat); their tasks were retried.", {
      metric: this.lostWorkers.with({ period: fiveMinutes, statistic: "Sum" }),
      threshold: 0,
    });
    this.alarm("LeaseTakeovers", "A round lost its lease to another round (it ran past the lease TTL).", {
      metric: this.leaseLost.with({ period: fiveMinutes, statistic: "Sum" }),
      threshold: 0,
    });
    this.alarm("Api5xx", "The API answered with server errors.", {
      metric: props.api.metricServerError({ period: fiveMinutes, statistic: "Sum" }),
      threshold: 0,
    });
    if (props.alarmTopic) {
      const action = new actions.SnsAction(props.alarmTopic);
      for (const alarm of this.alarms) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }
    if (props.dashboard) this.dashboard = this.buildDashboard(props);
  }

  private logMetric(id: string, props: SousMonitoringProps, metricName: string, filterPattern: logs.IFilterPattern) {
    const filter = new logs.MetricFilter(this, id, {
      logGroup: props.roundLogGroup,
      // Filter dimensions may only take values from the log event, so the namespace tells deployments apart.
      metricNamespace: `${METRIC_NAMESPACE}/${props.deploymentName}`,
      metricName,
      filterPattern,
      metricValue: "1",
    });
    return filter.metric();
  }

  private alarm(id: string, description: string, options: { metric: cloudwatch.IMetric; threshold: number }) {
    const alarm = new cloudwatch.Alarm(this, id, {
      alarmDescription: description,
      metric: options.metric,
      threshold: options.threshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.alarms.push(alarm);
    return alarm;
  }

  private buildDashboard(props: SousMonitoringProps): cloudwatch.Dashboard {
    const dashboard = new cloudwatch.Dashboard(this, "Dashboard", {
      defaultInterval: Duration.hours(3),
    });
    const round = props.roundFunction;
    const width = 8;
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: "Rounds",
        width,
        left: [round.metricInvocations(), round.metricErrors(), round.metricThrottles()],
        right: [round.metricDuration({ statistic: "p90" })],
      }),
      new cloudwatch.GraphWidget({
        title: "Status queue",
        width,
        left: [
          props.statusQueue.metricApproximateNumberOfMessagesVisible(),
          props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ label: "Dead letters" }),
        ],
        right: [props.statusQueue.metricApproximateAgeOfOldestMessage()],
      }),
      new cloudwatch.GraphWidget({
        title: "API",
        width,
        left: [props.api.metricCount(), props.api.metricClientError(), props.api.metricServerError()],
        right: [props.api.metricLatency({ statistic: "p90" })],
      }),
    );
    const health = [
      new cloudwatch.GraphWidget({
        title: "Workers lost, leases lost",
        width,
        left: [this.lostWorkers.with({ statistic: "Sum" }), this.leaseLost.with({ statistic: "Sum" })],
      }),
      new cloudwatch.GraphWidget({
        title: "Status ingestion",
        width,
        left: [props.ingestFunction.metricInvocations(), props.ingestFunction.metricErrors()],
        right: [props.ingestFunction.metricDuration({ statistic: "p90" })],
      }),
    ];
    if (props.workerService) {
      health.push(
        new cloudwatch.GraphWidget({
          title: "Worker service",
          width,
          left: [props.workerService.metricCpuUtilization(), props.workerService.metricMemoryUtilization()],
        }),
      );
    }
    dashboard.addWidgets(...health);
    return dashboard;
  }
}
