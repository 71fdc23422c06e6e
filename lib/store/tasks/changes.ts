// What a logged task change (ADR 0003) does to an item: the one definition shared by the warm
// round state, which follows the change log (lib/round/task-cache.ts), and the in-memory store,
// which writes its items through it (lib/store/memory-tasks.ts).
import type { TaskChange, TaskItem } from "./types";

/** The held item after one logged change, exactly as its write changed the stored item; undefined: no change. */
export function changedItem(held: TaskItem | undefined, change: TaskChange): TaskItem | undefined {
  switch (change.kind) {
    case "put":
      return !held || held.version < change.item.version ? { ...change.item } : undefined;
    case "start": {
      if (held && held.version >= change.version) return undefined;
      const base: TaskItem = held ?? { job: change.job, node: change.node, state: "running", version: 0 };
      return { ...base, state: "running", version: change.version, running: change.running };
    }
    case "finish": {
      // Attempt ids never repeat: a held item no longer running this attempt already has the end.
      if (!held || held.running?.attempt !== change.attempt) return undefined;
      const { running: _ended, lastTokenHash: _previous, ...rest } = held;
      return {
        ...rest,
        state: change.state,
        status: change.status,
        version: held.version + 1,
        lastAttempt: change.attempt,
        ...(change.tokenHash === undefined ? {} : { lastTokenHash: change.tokenHash }),
      };
    }
    case "replace":
      if (!held || held.version >= change.version) return undefined;
      return { ...held, state: change.state, status: change.status, version: change.version };
  }
}

/** The task a change is about. */
export const changeKey = (change: TaskChange): { job: string; node: string } =>
  change.kind === "put" ? { job: change.item.job, node: change.item.node } : { job: change.job, node: change.node };
