// The worker's options compiled in one step (lib/worker/worker-options.ts): defaults filled in,
// every bad option named in one WorkerOptionsError whose cause is the schema's report.
import * as z from "../../lib/config/zod";

import { compileWorkerOptions, WORKER_OPTION_DEFAULTS, WorkerOptionsError } from "../../lib/worker/worker-options";

const minimal = { id: "w1", command: "/bin/true", dataDir: "/tmp/sous" };

describe("compileWorkerOptions", () => {
  it("fills in the defaults", () => {
    const compiled = compileWorkerOptions(minimal);
    expect(compiled).toMatchObject({ ...minimal, ...WORKER_OPTION_DEFAULTS, resources: {} });
    expect(compiled.hostname).not.toBe("");
    expect(compiled.instanceId).toMatch(/^[0-9a-f-]{36}$/);
    expect(compileWorkerOptions(minimal).instanceId).not.toBe(compiled.instanceId);
    expect(compiled).not.toHaveProperty("baseEnv");
  });

  it("keeps what the caller set", () => {
    const baseEnv = { PATH: "/bin" };
    const compiled = compileWorkerOptions({
      ...minimal,
      hostname: "h",
      instanceId: "i",
      heartbeatPeriodSec: 1,
      receiveWaitSec: 0,
      resources: { cpu: 4 },
      baseEnv,
    });
    expect(compiled).toMatchObject({ hostname: "h", instanceId: "i", heartbeatPeriodSec: 1, receiveWaitSec: 0 });
    expect(compiled.resources).toEqual({ cpu: 4 });
    expect(compiled.baseEnv).toBe(baseEnv);
  });

  it.each([
    [{ receiveWaitSec: 21 }, "receiveWaitSec"],
    [{ receiveWaitSec: -1 }, "receiveWaitSec"],
    [{ heartbeatPeriodSec: 0 }, "heartbeatPeriodSec"],
    [{ heartbeatPeriodSec: 3601 }, "heartbeatPeriodSec"],
    [{ killWaitMs: Number.NaN }, "killWaitMs"],
    [{ shutdownWaitMs: 86_400_001 }, "shutdownWaitMs"],
    [{ id: "" }, "id"],
    [{ dataDir: "" }, "dataDir"],
    [{ resources: { cpu: -1 } }, "resources.cpu"],
    [{ resources: { cpu: 1.5 } }, "resources.cpu"],
  ])("refuses %j, naming %s", (bad, name) => {
    let thrown: unknown;
    try {
      compileWorkerOptions({ ...minimal, ...bad });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(WorkerOptionsError);
    expect(thrown).toBeInstanceOf(RangeError);
    const error = thrown as WorkerOptionsError;
    expect(error.message).toContain(`${name}:`);
    expect(error.cause).toBeInstanceOf(z.core.$ZodError);
  });

  it("names every bad option at once", () => {
    expect(() => compileWorkerOptions({ ...minimal, receiveWaitSec: 30, killWaitMs: -1 })).toThrow(
      /receiveWaitSec:.*; killWaitMs:/,
    );
  });
});
