// Worker resources from the machine (lib/worker/machine-resources.ts) and `physical_resources`
// (workerCapacity in lib/scheduler/worker-health.ts): limits, then the measured machine mapped as
// Bistro maps it, then the worker's declaration, then worker_resources_override.
import { workerCapacity } from "../../lib/scheduler/worker-health";
import type { WorkerRecord } from "../../lib/store/workers";
import { detectMachineResources, parseGpuNames } from "../../lib/worker/machine-resources";
import { configDocument, parseValid } from "../helpers/config";

function settingsWith(physical: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const document = configDocument(
    {},
    {
      enabled: true,
      nodes: { levels: ["db"], node_sources: [] },
      resources: {
        worker: {
          cores: { default: 1, limit: 4 },
          ram: { default: 1, limit: 1000 },
          gpus: { default: 0, limit: 0 },
          "GPU: Tesla T4": { default: 0, limit: 0 },
        },
      },
      physical_resources: physical,
      ...extra,
    },
  );
  return parseValid(document).settings;
}

function record(partial: Partial<WorkerRecord> = {}): WorkerRecord {
  return {
    id: "w1",
    hostname: "host1",
    instanceId: "i",
    queueUrl: "q",
    resources: {},
    heartbeatPeriodSec: 15,
    registeredAtMs: 0,
    heartbeatAtMs: 0,
    ...partial,
  };
}

const machine = { cpuCores: 16, memoryMB: 64_000, gpus: ["Tesla T4", "Tesla T4", "A100"] };

describe("physical_resources", () => {
  it("without a measured machine, keeps the configured limits", () => {
    const settings = settingsWith({ cpu_core: { logical_resource: "cores" } });
    expect(workerCapacity(record(), settings)).toEqual({ cores: 4, ram: 1000, gpus: 0, "GPU: Tesla T4": 0 });
  });

  it("maps cores, memory and GPU cards: trunc((physical - reserve) / multiply), never below 0", () => {
    const settings = settingsWith({
      cpu_core: { logical_resource: "cores", physical_reserve_amount: 2, multiply_logical_by: 2 },
      ram_mb: { logical_resource: "ram", physical_reserve_amount: 4000, multiply_logical_by: 1000 },
      gpu_card: { logical_resource: "gpus" },
    });
    // cores: (16 - 2) / 2 = 7; ram: (64000 - 4000) / 1000 = 60; gpus: 3; one per T4 card on its model resource.
    expect(workerCapacity(record({ machine }), settings)).toEqual({ cores: 7, ram: 60, gpus: 3, "GPU: Tesla T4": 2 });
    const reserved = settingsWith({ cpu_core: { logical_resource: "cores", physical_reserve_amount: 100 } });
    expect(workerCapacity(record({ machine }), reserved).cores).toBe(0);
  });

  it("an unknown (0) physical amount keeps the limit", () => {
    const settings = settingsWith({ gpu_card: { logical_resource: "gpus" }, ram_mb: { logical_resource: "ram" } });
    const capacity = workerCapacity(record({ machine: { cpuCores: 0, memoryMB: 0, gpus: [] } }), settings);
    expect(capacity).toMatchObject({ gpus: 0, ram: 1000 });
  });

  it("the worker's declaration, then worker_resources_override, win over the machine", () => {
    const settings = settingsWith(
      { cpu_core: { logical_resource: "cores" }, ram_mb: { logical_resource: "ram" } },
      { worker_resources_override: { host1: { ram: 5 } } },
    );
    const capacity = workerCapacity(record({ machine, resources: { cores: 2 } }), settings);
    expect(capacity).toMatchObject({ cores: 2, ram: 5 });
  });
});

describe("detectMachineResources", () => {
  it("reports cores, memory in MB and one GPU model per card from nvidia-smi", async () => {
    const queries: string[][] = [];
    const detected = await detectMachineResources({
      gpuQuery: (args) => {
        queries.push(args);
        return Promise.resolve("Tesla T4\nTesla T4\n");
      },
      cpuCores: () => 8,
      totalMemoryBytes: () => 16 * 1024 * 1024 * 1024 + 5,
    });
    expect(detected).toEqual({ cpuCores: 8, memoryMB: 16_384, gpus: ["Tesla T4", "Tesla T4"] });
    expect(queries).toEqual([["--query-gpu=name", "--format=csv,noheader"]]);
  });

  it("reports no GPUs when nvidia-smi is missing or finds none", async () => {
    const missing = await detectMachineResources({ gpuQuery: () => Promise.resolve(undefined) });
    expect(missing.gpus).toEqual([]);
    expect(missing.cpuCores).toBeGreaterThan(0);
    expect(parseGpuNames("No devices were found\n")).toEqual([]);
  });
});
