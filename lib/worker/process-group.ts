// Signalling a task's process group, and making sure nothing of it is left alive once the task ends.
// Every task leads its own process group (it is spawned detached), so its pid is also its group id.

import { readdir, readFile } from "node:fs/promises";

/**
 * Signals the process group `pgid`; false if it is empty (ESRCH) or cannot be signalled. Never
 * throws: it also runs from timers, where an exception would take the whole worker down.
 */
export function signalProcessGroup(pgid: number, signal: NodeJS.Signals): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1) return false; // kill(-0) or kill(-1) would hit far more than a task
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Pids of the live members of process group `pgid`, read from /proc (Linux); undefined where there is
 * no /proc. Zombies do not count: they are dead, and where PID 1 does not reap orphans they stay.
 */
export async function liveGroupMembers(pgid: number): Promise<number[] | undefined> {
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return undefined;
  }
  const members: number[] = [];
  await Promise.all(
    entries
      .filter((entry) => /^\d+$/.test(entry))
      .map(async (entry) => {
        let stat: string;
        try {
          stat = await readFile(`/proc/${entry}/stat`, "utf8");
        } catch {
          return; // exited meanwhile
        }
        // "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses, so parse after the last ")".
        const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        if (Number(pgrp) === pgid && state !== "Z" && state !== "X") members.push(Number(entry));
      }),
  );
  return members;
}

/**
 * SIGKILLs group `pgid` until no live member is left, polling from `pollMs` up to once a second.
 * SIGKILL is delivered asynchronously, so this is what lets the caller say "nothing is left". A
 * process stuck in the kernel (state D) keeps it waiting, as Bistro's cgroup reaper would. Without
 * /proc it sends one SIGKILL and returns.
 */
export async function killProcessGroup(pgid: number, pollMs: number): Promise<void> {
  let waitMs = Math.max(1, pollMs);
  for (;;) {
    if (!signalProcessGroup(pgid, "SIGKILL")) return;
    const members = await liveGroupMembers(pgid);
    if (members === undefined || members.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, waitMs));
    waitMs = Math.min(1000, waitMs * 2);
  }
}
