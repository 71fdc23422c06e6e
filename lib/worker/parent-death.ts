// Bistro's `parent_death_signal` (default 9) for tasks started from Node, which cannot call
// prctl(PR_SET_PDEATHSIG) itself: util-linux's `setpriv --pdeathsig` sets it and then execs
// the task. If the worker dies (kill -9, OOM), the kernel signals the task's main process, so
// it cannot outlive its worker and overlap the retry the scheduler makes after the
// lost-worker deadline. Where `setpriv` is missing (macOS) tasks run without it.
import { spawnSync } from "node:child_process";
import { constants as fsConstants } from "node:fs";
import { access } from "node:fs/promises";
import { constants } from "node:os";
import { delimiter, isAbsolute, join, resolve } from "node:path";

let setprivPath: string | null | undefined;

/** The setpriv binary, looked up once; null when this system has none. */
export function setprivBinary(): string | null {
  if (setprivPath === undefined) {
    const probe = spawnSync("setpriv", ["--version"], { encoding: "utf8" });
    setprivPath = probe.error || probe.status !== 0 ? null : "setpriv";
  }
  return setprivPath;
}

/** The argv prefix that gives the task `signal` when the worker dies; [] when not possible or not asked for. */
export function parentDeathPrefix(signal: number): string[] {
  if (signal <= 0) return [];
  const binary = setprivBinary();
  const name = Object.entries(constants.signals).find(([, number]) => number === signal)?.[0];
  if (!binary || !name) return [];
  return [binary, "--pdeathsig", name.replace(/^SIG/, ""), "--"];
}

/**
 * Why `file` cannot be executed, in the words Node's spawn would use (ENOENT, EACCES), or
 * undefined. Needed when a wrapper execs the task: the wrapper itself always starts.
 */
export async function executableProblem(
  file: string,
  cwd: string,
  pathVariable: string | undefined,
): Promise<string | undefined> {
  const candidates = file.includes("/")
    ? [isAbsolute(file) ? file : resolve(cwd, file)]
    : (pathVariable ?? "")
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, file));
  let sawNotExecutable = false;
  for (const candidate of candidates) {
    try {
      await access(candidate, fsConstants.X_OK);
      return undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EACCES") sawNotExecutable = true;
    }
  }
  return sawNotExecutable ? `spawn ${file} EACCES` : `spawn ${file} ENOENT`;
}
