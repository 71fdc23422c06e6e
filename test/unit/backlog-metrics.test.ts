// The round's backlog metrics as CloudWatch receives them: one EMF document with both counts,
// under the namespace and dimensions the worker service's scaling alarms read (infra/workers.ts).
import { Metrics } from "@aws-lambda-powertools/metrics";
import { publishBacklog } from "../../functions/scheduler-round";
import { BACKLOG_METRICS, BACKLOG_NAMESPACE, ROUND_SERVICE_NAME } from "../../lib/round/backlog-metrics";
import { emptyRoundReport, type RoundReport } from "../../lib/round/run-round";

function report(runnablePending: number, running: number): RoundReport {
  return { ...emptyRoundReport(7, 5), backlog: { runnablePending, running } };
}

function captureEmf(run: (metrics: Metrics) => void): Record<string, unknown>[] {
  const lines: string[] = [];
  const spy = jest.spyOn(console, "log").mockImplementation((line: unknown) => {
    lines.push(String(line));
  });
  const spyOut = jest.spyOn(process.stdout, "write").mockImplementation((chunk: unknown) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    run(
      new Metrics({
        namespace: BACKLOG_NAMESPACE,
        serviceName: ROUND_SERVICE_NAME,
        defaultDimensions: { Deployment: "test-deployment" },
      }),
    );
  } finally {
    spy.mockRestore();
    spyOut.mockRestore();
  }
  return lines
    .flatMap((l) => l.split("\n"))
    .filter((l) => l.includes("_aws"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe("publishBacklog", () => {
  it("publishes runnable-pending and running counts in one EMF document", () => {
    const [emf, ...rest] = captureEmf((metrics) => {
      publishBacklog(metrics, report(12, 3));
    });
    expect(rest).toEqual([]);
    expect(emf).toMatchObject({
      [BACKLOG_METRICS.runnablePending]: 12,
      [BACKLOG_METRICS.running]: 3,
      service: ROUND_SERVICE_NAME,
      Deployment: "test-deployment",
      _aws: {
        CloudWatchMetrics: [
          {
            Namespace: BACKLOG_NAMESPACE,
            Dimensions: [expect.arrayContaining(["service", "Deployment"])],
            Metrics: expect.arrayContaining([
              { Name: BACKLOG_METRICS.runnablePending, Unit: "Count" },
              { Name: BACKLOG_METRICS.running, Unit: "Count" },
            ]) as unknown,
          },
        ],
      },
    });
  });

  it("publishes zeros for an idle deployment, and nothing when no round ran", () => {
    expect(
      captureEmf((metrics) => {
        publishBacklog(metrics, report(0, 0));
      })[0],
    ).toMatchObject({
      [BACKLOG_METRICS.runnablePending]: 0,
      [BACKLOG_METRICS.running]: 0,
    });
    expect(
      captureEmf((metrics) => {
        publishBacklog(metrics, undefined);
      }),
    ).toEqual([]);
  });
});
