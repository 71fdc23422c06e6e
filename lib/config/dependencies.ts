// `depends_on` cycles. Bistro never validates dependencies, so a job in a cycle silently never
// runs; Sous marks every job of a cycle invalid with an error naming the cycle.
import type { Job } from "../model/config";
import { mergeIssues, putEntry } from "./issues";

/**
 * The jobs, with a cycle error added to each job that is part of a `depends_on` cycle (a job
 * depending on itself included). Jobs not in a cycle are returned as the same objects.
 */
export function withDependencyCycleErrors(jobs: Readonly<Record<string, Job>>): Record<string, Job> {
  const result: Record<string, Job> = {};
  for (const [name, job] of Object.entries(jobs)) putEntry(result, name, job);
  const edges = new Map<string, string[]>();
  for (const [name, job] of Object.entries(jobs)) {
    edges.set(
      name,
      job.dependsOn.filter((dep) => Object.hasOwn(jobs, dep)),
    );
  }
  for (const component of stronglyConnectedComponents(edges)) {
    const members = new Set(component);
    for (const name of component) {
      const job = jobs[name];
      const cycle = shortestCycle(name, edges, members);
      if (!job || !cycle) continue;
      const issue = {
        path: `bistro_job->${name}.depends_on`,
        message: `depends_on cycle ${cycle.join(" -> ")} (each waits for the next): these jobs would never run`,
      };
      putEntry(result, name, { ...job, errors: mergeIssues(job.errors, [issue]) });
    }
  }
  return result;
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
