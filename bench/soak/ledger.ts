// The soak's ground truth: every task process appends a start and an end line (wall clock, ms) to
// one file. From it alone: over-subscriptions (a limit exceeded at any instant, counting each
// excess once per resource and node) and double starts (two attempts of one task overlapping).
// Tasks killed with their worker write no end: they end when the worker was killed (plus a margin).

export interface LedgerLimits {
  instance: number;
  host: number;
  db: number;
  workerSlots: number;
}

interface Interval {
  job: string;
  node: string;
  attempt: string;
  worker: string;
  startMs: number;
  endMs: number;
}

/** Margin added to a killed worker's kill time for its tasks' end (they die by the parent death signal). */
const KILL_MARGIN_MS = 1000;

export function readIntervals(text: string, killedAtMs: ReadonlyMap<string, number>, soakEndMs: number): Interval[] {
  const open = new Map<string, Interval>();
  const done: Interval[] = [];
  for (const line of text.split("\n")) {
    const [kind, ms, job, node, attempt, worker] = line.split(" ");
    if (!kind || !job || !node || !attempt || !worker) continue;
    const key = `${job}/${node}/${attempt}`;
    if (kind === "S") open.set(key, { job, node, attempt, worker, startMs: Number(ms), endMs: Infinity });
    else if (kind === "E") {
      const interval = open.get(key);
      if (interval) {
        interval.endMs = Number(ms);
        done.push(interval);
        open.delete(key);
      }
    }
  }
  for (const interval of open.values()) {
    const killed = killedAtMs.get(interval.worker);
    interval.endMs = killed !== undefined ? killed + KILL_MARGIN_MS : soakEndMs;
    done.push(interval);
  }
  return done;
}

/** Counts limit excesses: each (counter, limit) pair that went over at some instant counts once per episode. */
export function overSubscriptions(
  intervals: readonly Interval[],
  limits: LedgerLimits,
  explain?: (what: string) => void,
): number {
  const events = intervals.flatMap((i) => [
    { at: i.startMs, delta: 1, i },
    { at: i.endMs, delta: -1, i },
  ]);
  // Ends before starts at the same instant: a slot freed and taken in one millisecond is not an excess.
  events.sort((a, b) => a.at - b.at || a.delta - b.delta);
  const used = new Map<string, number>();
  const over = new Set<string>();
  let episodes = 0;
  for (const { delta, i } of events) {
    const counters: [string, number][] = [
      ["instance", limits.instance],
      [`host:${i.node.split(".")[0]}`, limits.host],
      [`db:${i.node}`, limits.db],
      [`worker:${i.worker}`, limits.workerSlots],
    ];
    for (const [counter, limit] of counters) {
      const now = (used.get(counter) ?? 0) + delta;
      used.set(counter, now);
      if (now > limit && !over.has(counter)) {
        over.add(counter);
        episodes++;
        explain?.(`${counter} at ${now} > ${limit} when ${i.job}/${i.node} ${i.attempt} on ${i.worker} started`);
      } else if (now <= limit) over.delete(counter);
    }
  }
  return episodes;
}

/** Pairs of attempts of one (job, node) whose run times overlap. */
export function doubleStarts(intervals: readonly Interval[], explain?: (what: string) => void): number {
  const byTask = new Map<string, Interval[]>();
  for (const i of intervals) {
    const key = `${i.job}/${i.node}`;
    byTask.set(key, [...(byTask.get(key) ?? []), i]);
  }
  let doubles = 0;
  for (const runs of byTask.values()) {
    runs.sort((a, b) => a.startMs - b.startMs);
    for (let k = 1; k < runs.length; k++) {
      const [before, after] = [runs[k - 1]!, runs[k]!];
      if (after.startMs >= before.endMs) continue;
      doubles++;
      explain?.(
        `${after.job}/${after.node}: ${before.attempt} on ${before.worker} and ${after.attempt} on ${after.worker}`,
      );
    }
  }
  return doubles;
}
