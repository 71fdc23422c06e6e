// Task writes the tasks contract (test/contract/tasks-contract.ts, task-reads-contract.ts) makes,
// and the checks both parts share.
import type { Lease } from "../../lib/store/lease";
import type { StorePorts } from "../../lib/store/ports";
import type { FinishWrite, LimitedCharge, StartCommitResult, StartWrite } from "../../lib/store/tasks";

export const NOW = 1_000_000;

export function start(
  job: string,
  node: string,
  charges: LimitedCharge[],
  expectedVersion: number | null = null,
): StartWrite {
  return {
    job,
    node,
    attempt: `${job}/${node}/${expectedVersion ?? 0}`,
    tokenHash: `hash-of-${job}/${node}/${expectedVersion ?? 0}`,
    worker: "w1",
    workerInstance: "w1-a",
    charges,
    nextBackoff: { seconds: 15, noMoreBackoffs: false },
    expectedVersion,
  };
}
export const host = (name: string, amount: number, limit: number): LimitedCharge => ({
  level: "host",
  name,
  resource: "host_concurrency",
  amount,
  limit,
});
export const slot = (amount: number, limit: number): LimitedCharge => ({
  level: "instance",
  name: "inst",
  resource: "concurrency",
  amount,
  limit,
});
export const done = { bits: 4, timeSec: 100, backoffSec: 0 };
export function finishOf(s: StartWrite, overrides: Partial<FinishWrite> = {}): FinishWrite {
  return {
    job: s.job,
    node: s.node,
    attempt: s.attempt,
    status: done,
    state: "done",
    charges: s.charges.map(({ level, name, resource, amount }) => ({ level, name, resource, amount })),
    tokenHash: s.tokenHash,
    ...overrides,
  };
}
export const nodesOf = (starts: readonly { start: StartWrite }[] | readonly StartWrite[]) =>
  starts.map((s) => ("start" in s ? s.start.node : s.node)).sort();

/** Every requested start comes back once, in one of the three lists. */
export function expectAccounted(requested: readonly StartWrite[], result: StartCommitResult): void {
  const returned = [...result.committed, ...result.rejected.map((r) => r.start), ...result.refused.map((r) => r.start)];
  expect(returned.map((s) => s.node).sort()).toEqual(requested.map((s) => s.node).sort());
  expect(result.transactions).toBeGreaterThanOrEqual(0);
}

/** A test's fresh store, and the lease its round holds. */
export async function storeWithLease(ports: () => StorePorts): Promise<{ store: StorePorts; lease: Lease }> {
  const store = ports();
  return { store, lease: (await store.lease.acquire("round", NOW, 60_000))! };
}

/** Commits `starts` at NOW, checking that each comes back once. */
export async function commitAccounted(
  store: StorePorts,
  lease: Lease,
  starts: StartWrite[],
): Promise<StartCommitResult> {
  const result = await store.tasks.commitStarts(lease, starts, NOW);
  expectAccounted(starts, result);
  return result;
}
