// One scheduling round as a pure function: plan = f(snapshot, now, rng).
// It indexes the snapshot into typed arrays, handles orphans, builds every runnable job's
// candidates, lets the configured policy try them against data-node and worker resources,
// and returns the tasks to start and kill with the state to carry to the next round.
import { WORKER_LEVEL, type Job } from "../model/config";
import { pathToNode, type NodeNames, type NodeTree } from "../model/tree";
import { backoffAtStart } from "./backoff";
import { CandidateList, disabledOnPath, levelOrder, rejectedForJob } from "./candidates";
import { compileFilter, FilterError, isTrivialFilter, passesName, type CompiledFilter } from "./filters";
import { processOrphans } from "./orphans";
import { runPolicy, type JobCandidates } from "./policies";
import { shuffleInPlace, type Rng } from "./random";
import { ResourceBook } from "./resources";
import type { Plan, PlanReason, RoundSnapshot, TaskRecord, TaskStart, WorkerSnapshot } from "./snapshot";
import { indexTasks } from "./task-index";
import { WorkerSelector, type TryResult } from "./workers";

/** What a runnable job needs during the policy phase, by slot. */
interface JobPlan {
  job: Job;
  need: Float64Array;
  /** Workers its worker-level filter keeps (null: all). */
  acceptsWorkers: Uint8Array | null;
  /** Level whose ancestor-or-self name is the required worker hostname; -1 for none. */
  hostLevel: number;
  /** Set once the all-workers pool had no room: it cannot get room later in the round. */
  workerMiss: boolean;
  /** No host placement of any kind: every candidate asks the all-workers pool. */
  anyHost: boolean;
  candidates: CandidateList;
}

export interface PlanOptions {
  /**
   * Settle a job's remaining candidates at once when the all-workers pool has no room for it
   * (default true; false tries them one by one, for tests that compare the two).
   */
  settleMisses?: boolean;
}

export function planRound(snapshot: RoundSnapshot, nowSec: number, rng: Rng, options: PlanOptions = {}): Plan {
  const settleMisses = options.settleMisses ?? true;
  const { config, tree, tasks } = snapshot;
  const settings = config.settings;
  const stats = { candidatesEvaluated: 0, candidates: 0, tried: 0, running: 0 };
  if (!settings.enabled) {
    return {
      starts: [],
      kills: [],
      orphanTimers: [...snapshot.orphanTimers],
      workerCursors: snapshot.workerCursors,
      reasons: [{ message: "Not running because enabled is false" }],
      stats,
      nextRoundInSec: settings.idleWaitSec,
    };
  }

  // Bistro shuffles the whole job map each round, then skips the jobs that cannot run.
  const jobNames = shuffleInPlace(Object.keys(config.jobs).sort(), rng);
  const slotOf = new Map(jobNames.map((name, slot) => [name, slot]));
  const { codes, eligibleRecords, running: runningIndices } = indexTasks(tasks, slotOf, tree, nowSec, snapshot.done);
  const running = runningIndices.map((i) => tasks[i] as TaskRecord);
  stats.running = running.length;

  const reasons: PlanReason[] = [];
  const orphans = processOrphans(config, tree, running, snapshot.orphanTimers, nowSec);
  const workers = [...snapshot.workers].sort(byId);
  const book = new ResourceBook(settings, tree, workers);
  const selector = new WorkerSelector(workers, settings, book.workerNames, snapshot.workerCursors);
  book.chargeRunning(running, selector.indexOf);

  const none = new Uint8Array(tree.size);
  const orders = new Map<number, Int32Array>();
  let disabled: Uint8Array | null = null;

  const jobPlans: (JobPlan | undefined)[] = [];
  const candidates: JobCandidates[] = [];
  jobNames.forEach((name, slot) => {
    const job = config.jobs[name];
    if (!job) return;
    const setup = prepareJob(job, tree.levels, workers);
    if (typeof setup === "string") {
      reasons.push({ job: name, message: setup });
      return;
    }
    const dependencies: Uint8Array[] = [];
    for (const dependency of job.dependsOn) {
      const depSlot = slotOf.get(dependency);
      if (depSlot === undefined) {
        reasons.push({ job: name, message: `Job ${name} depends on unknown job ${dependency}` });
        return;
      }
      dependencies.push(codes[depSlot] ?? none);
    }
    let order = orders.get(setup.level);
    if (!order) orders.set(setup.level, (order = levelOrder(tree, setup.level, settings.nodeOrder, rng)));
    const rejected = setup.nodeFilters.every((f, level) => f === null || level > setup.level)
      ? (disabled ??= disabledOnPath(tree))
      : rejectedForJob(tree, job, setup.level, setup.nodeFilters);
    const levelNodes = tree.byLevel[setup.level] ?? new Int32Array(0);
    const jobCodes = codes[slot] ?? none;
    const found = new CandidateList(slot, job.priority, order, rejected, jobCodes, dependencies, levelNodes, tree.size);
    stats.candidatesEvaluated += order.length;
    stats.candidates += found.length;
    candidates.push(found);
    jobPlans[slot] = {
      job,
      need: book.needOf(job),
      acceptsWorkers: setup.acceptsWorkers,
      hostLevel: setup.hostLevel,
      workerMiss: false,
      anyHost: (job.hostPlacement === null || job.hostPlacement === "") && setup.hostLevel < 0,
      candidates: found,
    };
  });

  const starts: TaskStart[] = [];
  // A replicated name is one task: once one copy starts, the job's other copies are skipped.
  const startedReplicas = new Set<string>();
  // Names are made strings on demand: each host node's once per round, not once per try.
  const hostNames = new NameMemo(tree.names);
  const replicaKey = (slot: number, node: number): string | null => {
    if (tree.replicas.size === 0) return null;
    const name = tree.names.at(node);
    return tree.replicas.has(name) ? `${slot}\u0000${name}` : null;
  };
  const tryTask = (slot: number, node: number): TryResult => {
    stats.tried++;
    const plan = jobPlans[slot] as JobPlan;
    const replica = replicaKey(slot, node);
    if (replica !== null && startedReplicas.has(replica)) return "did_not_run";
    if (!book.fitsNodes(plan.need, node)) return "did_not_run";
    const host = requiredHost(plan, tree.levelOf, tree.parentOf, hostNames, node);
    if (host === null && plan.workerMiss) {
      selector.skipKnownMiss();
      return "did_not_run";
    }
    const choice = selector.select(book, plan.need, plan.acceptsWorkers, host);
    if (choice.result !== "ran") {
      if (choice.result === "did_not_run") {
        if (host === null) plan.workerMiss = true;
        if (plan.anyHost && settleMisses) missTheRest(plan);
        return "did_not_run";
      }
      const message = `${selector.stopMessage(host)} to run ${plan.job.name}, ${tree.names.at(node)}`;
      reasons.push({ job: plan.job.name, message });
      return "stop";
    }
    book.takeNodes(plan.need, node);
    if (replica !== null) startedReplicas.add(replica);
    const record = tasks[eligibleRecords[slot]?.get(node) ?? -1];
    starts.push(makeStart(book, plan, node, workers[choice.worker] as WorkerSnapshot, tree, record));
    return "ran";
  };
  // A job whose every candidate asks the all-workers pool, which had no room for it, gets none for
  // the rest of the round; and every policy tries a job's candidates back to back until one runs.
  // So its remaining candidates are settled here at once, with the effects trying each one would
  // have: each counts as tried, and each that passes the replica and node checks moves the
  // roundrobin cursor by one (the busiest selector has no cursor: nothing to check).
  const missTheRest = (plan: JobPlan): void => {
    const list = plan.candidates;
    stats.tried += list.length;
    if (!selector.hasCursor) {
      list.discard();
      return;
    }
    if (tree.replicas.size === 0) {
      selector.skipKnownMiss(list.countRest((node) => book.fitsNodes(plan.need, node)));
      return;
    }
    let moves = 0;
    while (list.length > 0) {
      const node = list.take();
      const replica = replicaKey(list.slot, node);
      if (replica !== null && startedReplicas.has(replica)) continue;
      if (book.fitsNodes(plan.need, node)) moves++;
    }
    selector.skipKnownMiss(moves);
  };
  runPolicy(settings.scheduler, candidates, tryTask, rng);

  return {
    starts,
    kills: orphans.kills,
    orphanTimers: orphans.timers,
    workerCursors: selector.exportCursors(),
    reasons,
    stats,
    nextRoundInSec: running.length > 0 || starts.length > 0 ? settings.workingWaitSec : settings.idleWaitSec,
  };
}

const byId = (a: WorkerSnapshot, b: WorkerSnapshot) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

interface JobSetup {
  level: number;
  /** Compiled filter per tree level (null: none or trivial). */
  nodeFilters: (CompiledFilter | null)[];
  acceptsWorkers: Uint8Array | null;
  hostLevel: number;
}

/** Checks that a job can run and compiles its filters; a string says why it cannot. */
function prepareJob(job: Job, levels: readonly string[], workers: readonly WorkerSnapshot[]): JobSetup | string {
  if (!job.enabled) return `Job ${job.name} is disabled`;
  const firstError = job.errors[0];
  if (firstError) return `Job ${job.name} is invalid: ${firstError.path}: ${firstError.message}`;
  const level = levels.indexOf(job.levelForTasks);
  if (level < 0) return `Job ${job.name} runs on level ${job.levelForTasks}, which has no nodes`;
  try {
    const nodeFilters = levels.map((name) => {
      const filter = job.filters[name];
      const compiled = filter ? compileFilter(filter) : null;
      return compiled && !isTrivialFilter(compiled) ? compiled : null;
    });
    const workerFilter = job.filters[WORKER_LEVEL];
    const compiledWorker = workerFilter ? compileFilter(workerFilter) : null;
    const filtered = compiledWorker !== null && !isTrivialFilter(compiledWorker);
    // Container jobs run only on the RunTask launcher, other jobs never do (when one is present).
    const launcherPresent = workers.some((w) => w.containerLauncher === true);
    const wantsLauncher = job.container !== undefined;
    if (wantsLauncher && !launcherPresent) return `Job ${job.name} runs in containers, and this deployment has none`;
    const acceptsWorkers =
      filtered || launcherPresent
        ? Uint8Array.from(workers, (w) =>
            (w.containerLauncher === true) === wantsLauncher &&
            (!filtered || passesName(compiledWorker, job.name, w.hostname))
              ? 1
              : 0,
          )
        : null;
    const hostLevel = job.levelForHostPlacement === null ? -1 : levels.indexOf(job.levelForHostPlacement);
    return { level, nodeFilters, acceptsWorkers, hostLevel };
  } catch (error) {
    if (error instanceof FilterError) return `Job ${job.name} has a bad filter: ${error.message}`;
    throw error;
  }
}

/** Node names made strings once each (for the few nodes a round asks about again and again). */
class NameMemo {
  private readonly made = new Map<number, string>();

  constructor(private readonly names: NodeNames) {}

  at(node: number): string {
    let name = this.made.get(node);
    if (name === undefined) this.made.set(node, (name = this.names.at(node)));
    return name;
  }
}

/** `host_placement`, else the name of the task node's ancestor-or-self at `level_for_host_placement`. */
function requiredHost(
  plan: JobPlan,
  levelOf: Int32Array,
  parentOf: Int32Array,
  names: NameMemo,
  node: number,
): string | null {
  const fixed = plan.job.hostPlacement;
  if (fixed !== null && fixed !== "") return fixed;
  if (plan.hostLevel < 0) return null;
  for (let n = node; n >= 0; n = parentOf[n] as number) {
    if (levelOf[n] === plan.hostLevel) return names.at(n);
  }
  return null;
}

function makeStart(
  book: ResourceBook,
  plan: JobPlan,
  node: number,
  worker: WorkerSnapshot,
  tree: NodeTree,
  record: TaskRecord | undefined,
): TaskStart {
  const usage = book.usageOf(plan.need, node, worker.id);
  // Keys are node names, unique per task: a null-prototype object is a hash map in V8, where
  // a literal would mint a new hidden class per start (measured: most of a start's cost).
  const resourcesByNode = Object.create(null) as TaskStart["resourcesByNode"];
  for (const entry of usage) resourcesByNode[entry.node] = entry.resources;
  const start: TaskStart = {
    job: plan.job.name,
    node: tree.names.at(node),
    workerId: worker.id,
    workerHost: worker.hostname,
    usage,
    nextBackoff: backoffAtStart(plan.job.backoff, record?.status),
    pathToNode: pathToNode(tree, node),
    resourcesByNode,
  };
  if (record?.status) start.previous = record.status;
  return start;
}
