// The `script` node source (Bistro's ScriptFetcher): for each node of `parent_level`, run
// `script <parent>` directly (no shell) and make each non-empty stdout line a child. Sous adds
// what Bistro lacks: a timeout, an output cap, a non-zero exit counted as a failure, and a
// failure that keeps the parent's last good children (reported through `problems()`, which
// the `errors` handler shows) instead of failing the whole refresh. `runNodeScript` is shared
// with `sous nodes push --from-script`, which runs scripts where Lambda cannot.
import { spawn } from "node:child_process";
import type { NodeSpec } from "../model/tree";
import { describePref, levelBelowParents, NodeSourceError, type NodeSource, type NodeSourceContext } from "./source";

export const DEFAULT_SCRIPT_TIMEOUT_SEC = 60;
export const MAX_SCRIPT_TIMEOUT_SEC = 3600;
/** Per run of the script (one parent): 64 MiB holds a million node names of 60 bytes. */
export const MAX_SCRIPT_OUTPUT_BYTES = 64 * 1024 * 1024;
/** Parents whose scripts run at once; the output keeps the parents' order. */
export const SCRIPT_CONCURRENCY = 4;
const STDERR_TAIL_BYTES = 2000;

export class ScriptError extends NodeSourceError {}

export interface ScriptRunOptions {
  timeoutSec?: number;
  maxOutputBytes?: number;
}

/** Runs `script parent` without a shell; resolves with its non-empty stdout lines. */
export function runNodeScript(script: string, parent: string, options: ScriptRunOptions = {}): Promise<string[]> {
  const timeoutSec = options.timeoutSec ?? DEFAULT_SCRIPT_TIMEOUT_SEC;
  const maxBytes = options.maxOutputBytes ?? MAX_SCRIPT_OUTPUT_BYTES;
  const what = `script ${script} (parent ${parent})`;
  return new Promise((resolve, reject) => {
    // Its own process group, so a timeout also stops whatever the script started.
    const child = spawn(script, [parent], { stdio: ["ignore", "pipe", "pipe"], detached: true, shell: false });
    const chunks: Buffer[] = [];
    let bytes = 0;
    let stderr = "";
    let settled = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stop();
      reject(new ScriptError(message));
    };
    const stop = () => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    };
    const timer = setTimeout(() => {
      fail(`${what} did not finish within ${timeoutSec} s (timeout_sec); killed`);
    }, timeoutSec * 1000);
    child.stdout.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > maxBytes) fail(`${what} printed more than ${maxBytes} bytes (the output cap); killed`);
      else chunks.push(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString("utf8")).slice(-STDERR_TAIL_BYTES);
    });
    child.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") fail(`script ${script} does not exist`);
      else if (error.code === "EACCES") fail(`script ${script} is not executable`);
      else fail(`${what} could not start: ${error.message}`);
    });
    child.on("close", (code, signal) => {
      if (settled) return;
      const tail = stderr.trim() === "" ? "" : `; stderr: ${stderr.trim()}`;
      if (signal !== null) {
        fail(`${what} was killed by ${signal}${tail}`);
        return;
      }
      if (code !== 0) {
        fail(`${what} exited with code ${code}${tail}`);
        return;
      }
      settled = true;
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("utf8");
      resolve(
        text
          .split("\n")
          .map((line) => (line.endsWith("\r") ? line.slice(0, -1) : line))
          .filter((line) => line !== ""),
      );
    });
  });
}

/** The `script` and `timeout_sec` prefs. */
export function scriptPrefs(prefs: Readonly<Record<string, unknown>>): { script: string; timeoutSec: number } {
  const script = prefs.script;
  if (typeof script !== "string" || script === "") {
    throw new NodeSourceError(`"script" is required: the path of a program to run, found ${describePref(script)}`);
  }
  const timeout = prefs.timeout_sec ?? DEFAULT_SCRIPT_TIMEOUT_SEC;
  if (typeof timeout !== "number" || !(timeout > 0) || timeout > MAX_SCRIPT_TIMEOUT_SEC) {
    throw new NodeSourceError(
      `"timeout_sec" must be a number of seconds in (0, ${MAX_SCRIPT_TIMEOUT_SEC}], found ${describePref(timeout)}`,
    );
  }
  return { script, timeoutSec: timeout };
}

/** Runs `run` over `items` with at most `limit` at once; results keep the items' order. */
export async function mapLimited<T, R>(items: readonly T[], limit: number, run: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await run(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

interface LastGood {
  children: string[];
  atSec: number;
}

/**
 * A `script` source for hosts that may run programs (`sous local`). It remembers each
 * (script, parent)'s last good output: a failing run keeps it and is reported by `problems()`.
 */
export function createScriptSource(options: Pick<ScriptRunOptions, "maxOutputBytes"> = {}): NodeSource {
  const lastGood = new Map<string, LastGood>();
  const problems = new Map<string, string[]>();
  return {
    name: "script",
    async fetch(context: NodeSourceContext): Promise<NodeSpec[]> {
      const { script, timeoutSec } = scriptPrefs(context.prefs);
      const { level, parents } = levelBelowParents(context);
      const failures: string[] = [];
      const perParent = await mapLimited(parents, SCRIPT_CONCURRENCY, async (parent) => {
        const key = `${script}\u0000${parent}`;
        try {
          const children = await runNodeScript(script, parent, { ...options, timeoutSec });
          lastGood.set(key, { children, atSec: context.now });
          return children;
        } catch (error) {
          if (!(error instanceof ScriptError)) throw error;
          const kept = lastGood.get(key);
          failures.push(
            kept
              ? `${error.message}; kept its ${kept.children.length} nodes from the run at ${kept.atSec}`
              : `${error.message}; no earlier good run, so it has no nodes`,
          );
          return kept?.children ?? [];
        }
      });
      problems.set(script, failures);
      return parents.flatMap((parent, i) =>
        (perParent[i] ?? []).map((name) => ({ name, level, parent, enabled: true })),
      );
    },
    problems: () => [...problems.values()].flat(),
  };
}
