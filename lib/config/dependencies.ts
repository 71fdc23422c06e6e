// `depends_on` cycles. Bistro never validates dependencies, so a job in a cycle silently never
// runs; Sous marks every job of a cycle invalid, naming the cycle once.
import type { Job } from "../model/config";
import { mergeIssues } from "./issues";

/** Names shown when a cycle is described; longer cycles are abbreviated. */
const SHOWN_CYCLE_MEMBERS = 10;

/**
 * The jobs, with a cycle error added to each job that is part of a `depends_on` cycle (a job
 * depending on itself included). Each cycle is described once, on its first job in document
 * order; the other members get a short error pointing there, so a cycle of N jobs costs O(N)
 * text, not O(N^2). Jobs not in a cycle are returned as the same objects.
 */
export function withDependencyCycleErrors(jobs: Readonly<Record<string, Job>>): Record<string, Job> {
  const order = new Map<string, number>();
  for (const name of Object.keys(jobs)) order.set(name, order.size);
  const replaced = new Map<string, Job>();
  const edges = new Map<string, string[]>();
  for (const [name, job] of Object.entries(jobs)) {
    edges.set(
      name,
      job.dependsOn.filter((dep) => Object.hasOwn(jobs, dep)),
    );
  }
  for (const component of stronglyConnectedComponents(edges)) {
    const members = new Set(component);
    const first = component.reduce((a, b) => ((order.get(a) ?? 0) <= (order.get(b) ?? 0) ? a : b));
    const cycle = shortestCycle(first, edges, members);
    if (!cycle) continue;
    for (const name of component) {
      const job = jobs[name];
      if (!job) continue;
      const issue = {
        path: `bistro_job->${name}.depends_on`,
        message:
          name === first
            ? `depends_on cycle ${describeCycle(cycle, members.size)} (each waits for the next): these jobs would never run`
            : `part of the depends_on cycle reported on job ${JSON.stringify(first)}: this job would never run`,
      };
      replaced.set(name, { ...job, errors: mergeIssues(job.errors, [issue]) });
    }
  }
  // Object.fromEntries defines own properties, so a job named `__proto__` stays a job.
  return Object.fromEntries(Object.entries(jobs).map(([name, job]) => [name, replaced.get(name) ?? job]));
}

/** `a -> b -> a`, abbreviated past SHOWN_CYCLE_MEMBERS names, with the size of the whole group. */
function describeCycle(cycle: readonly string[], groupSize: number): string {
  const shown =
    cycle.length <= SHOWN_CYCLE_MEMBERS + 1
      ? cycle.join(" -> ")
      : `${cycle.slice(0, SHOWN_CYCLE_MEMBERS).join(" -> ")} -> ... (${cycle.length - 1} jobs) -> ${cycle[0] ?? ""}`;
  return groupSize > cycle.length - 1 ? `${shown}, among ${groupSize} mutually dependent jobs` : shown;
}

/** Components of the dependency graph (Tarjan's algorithm, iterative so long chains are fine). */
function stronglyConnectedComponents(edges: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const lowLink = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;
  for (const root of edges.keys()) {
    if (index.has(root)) continue;
    const work: { node: string; next: number }[] = [{ node: root, next: 0 }];
    index.set(root, counter);
    lowLink.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      if (!frame) break;
      const deps = edges.get(frame.node) ?? [];
      const dep = deps[frame.next++];
      if (dep !== undefined) {
        if (!index.has(dep)) {
          index.set(dep, counter);
          lowLink.set(dep, counter++);
          stack.push(dep);
          onStack.add(dep);
          work.push({ node: dep, next: 0 });
        } else if (onStack.has(dep)) {
          lowLink.set(frame.node, Math.min(lowLink.get(frame.node) ?? 0, index.get(dep) ?? 0));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) lowLink.set(parent.node, Math.min(lowLink.get(parent.node) ?? 0, lowLink.get(frame.node) ?? 0));
      if (lowLink.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let member: string | undefined;
        do {
          member = stack.pop();
          if (member === undefined) break;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        components.push(component);
      }
    }
  }
  return components;
}

/** `[start, ..., start]` through `members` by breadth-first search, or undefined if there is none. */
function shortestCycle(
  start: string,
  edges: ReadonlyMap<string, readonly string[]>,
  members: ReadonlySet<string>,
): string[] | undefined {
  const cameFrom = new Map<string, string>();
  const queue = [start];
  for (let head = 0; head < queue.length; head++) {
    const node = queue[head] ?? start;
    for (const dep of edges.get(node) ?? []) {
      if (!members.has(dep)) continue;
      if (dep === start) {
        const back: string[] = [];
        for (let at: string | undefined = node; at !== undefined && at !== start; at = cameFrom.get(at)) back.push(at);
        return [start, ...back.reverse(), start];
      }
      if (!cameFrom.has(dep)) {
        cameFrom.set(dep, node);
        queue.push(dep);
      }
    }
  }
  return undefined;
}
