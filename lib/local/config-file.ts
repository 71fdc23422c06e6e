// `sous local --config FILE`, live (Bistro's FileConfigLoader with --config_update_ms): the
// file is read every `intervalMs`, and a changed content goes through the same path as
// PUT /config (validated, stored as a new version, a round poked). A broken edit (unreadable,
// not JSON, or invalid) is reported once and the running config stays until the file changes
// again.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";

/** Bistro's --config_update_ms default. */
export const DEFAULT_CONFIG_UPDATE_MS = 10_000;

export interface ConfigFileWatch {
  path: string;
  intervalMs: number;
  /** Stores a document as PUT /config does; throws (e.g. ValidationError) when it is refused. */
  apply: (document: unknown) => Promise<{ version: number }>;
  /** An edit was applied (`version`) or refused (`error`). */
  onChange: (event: { path: string; version?: number; error?: string }) => void;
  /** Content already running (e.g. the file as read at start), so it is not stored again. */
  initialText?: string;
}

const hashOf = (text: string) => createHash("sha256").update(text).digest("hex");

export interface ConfigFilePoller {
  /** Reads the file now (as the timer does); resolves when handled. */
  check(): Promise<void>;
  stop(): void;
}

export function watchConfigFile(watch: ConfigFileWatch): ConfigFilePoller {
  let seen = watch.initialText === undefined ? undefined : hashOf(watch.initialText);
  let running: Promise<void> | undefined;
  const refuse = (hash: string, error: string) => {
    seen = hash;
    watch.onChange({ path: watch.path, error });
  };
  const check = async (): Promise<void> => {
    let text: string;
    try {
      text = await readFile(watch.path, "utf8");
    } catch (error) {
      const message = `cannot read ${watch.path}: ${error instanceof Error ? error.message : String(error)}`;
      if (seen !== `unreadable:${message}`) refuse(`unreadable:${message}`, message);
      return;
    }
    const hash = hashOf(text);
    if (hash === seen) return;
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch (error) {
      refuse(hash, `${watch.path} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    try {
      const { version } = await watch.apply(document);
      seen = hash;
      watch.onChange({ path: watch.path, version });
    } catch (error) {
      refuse(hash, describeRefusal(error));
    }
  };
  const tick = () => {
    running ??= check().finally(() => (running = undefined));
    return running;
  };
  const timer = setInterval(() => void tick(), watch.intervalMs);
  timer.unref();
  return {
    check: tick,
    stop: () => {
      clearInterval(timer);
    },
  };
}

function describeRefusal(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const issues = (error as { issues?: readonly { path?: string; message: string }[] }).issues ?? [];
  return [error.message, ...issues.map((i) => `  - ${i.path ? `${i.path}: ` : ""}${i.message}`)].join("\n");
}
