// What a worker measures of its machine at registration: CPU cores, memory and GPU cards (one
// model name per card, from `nvidia-smi` when it is installed). The scheduler maps them to worker
// resources through `physical_resources`. The GPU query is injectable for tests.
import { execFile } from "node:child_process";
import { availableParallelism, totalmem } from "node:os";

import type { MachineResources } from "../model/config";

/** Runs `nvidia-smi` with `args`; resolves its stdout, or undefined when it is missing or fails. */
export type GpuQuery = (args: string[]) => Promise<string | undefined>;

/** How long `nvidia-smi` may take before the worker registers without GPUs. */
const NVIDIA_SMI_TIMEOUT_MS = 10_000;

export const nvidiaSmi: GpuQuery = (args) =>
  new Promise((resolve) => {
    execFile("nvidia-smi", args, { timeout: NVIDIA_SMI_TIMEOUT_MS, encoding: "utf8" }, (error, stdout) => {
      resolve(error ? undefined : stdout);
    });
  });

/** GPU model names, one per card, from `nvidia-smi --query-gpu=name --format=csv,noheader`. */
export function parseGpuNames(output: string): string[] {
  return output
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("No devices"));
}

export async function detectMachineResources(
  deps: { gpuQuery?: GpuQuery; cpuCores?: () => number; totalMemoryBytes?: () => number } = {},
): Promise<MachineResources> {
  const output = await (deps.gpuQuery ?? nvidiaSmi)(["--query-gpu=name", "--format=csv,noheader"]);
  return {
    cpuCores: (deps.cpuCores ?? availableParallelism)(),
    memoryMB: Math.floor((deps.totalMemoryBytes ?? totalmem)() / (1024 * 1024)),
    gpus: output === undefined ? [] : parseGpuNames(output),
  };
}
