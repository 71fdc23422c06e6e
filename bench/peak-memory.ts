// Peak memory of a piece of work, measured exactly: the JS heap only grows between collections,
// so its peak is the largest size seen just before a collection (V8's GC profiler reports each
// one) or at the end; a 10 ms sample covers stretches without a collection. Shared by benches.
import { GCProfiler } from "node:v8";

export interface PeakMemory {
  /** Largest `heapUsed` (bytes). */
  heap: number;
  /** Largest memory outside the JS heap: typed arrays, Buffers (`external`, bytes). */
  outside: number;
}

/** Starts watching; `stop()` ends it and returns the peaks (from `start`'s values up). */
export function watchPeakMemory(start: PeakMemory = { heap: 0, outside: 0 }): { stop(): PeakMemory } {
  const peak = { ...start };
  const sample = () => {
    const now = process.memoryUsage();
    peak.heap = Math.max(peak.heap, now.heapUsed);
    peak.outside = Math.max(peak.outside, now.external);
  };
  const collections = new GCProfiler();
  collections.start();
  const timer = setInterval(sample, 10);
  return {
    stop() {
      clearInterval(timer);
      sample();
      for (const { beforeGC } of collections.stop().statistics) {
        peak.heap = Math.max(peak.heap, beforeGC.heapStatistics.usedHeapSize);
        peak.outside = Math.max(peak.outside, beforeGC.heapStatistics.externalMemory);
      }
      return peak;
    },
  };
}
