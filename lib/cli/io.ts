// What a `sous` command talks to besides the API: its output lines, its exit code, and the
// interrupt signal (Ctrl-C, SIGTERM), all injectable so tests run commands in-process. Also the
// exit codes scripts can rely on, and the one place an error becomes a message and a code.
import { ApiHttpError, ApiUnreachableError } from "./client";
import { ConflictError } from "../store/errors";
import { ControlPlaneHttpError } from "../worker/http-control-plane";
import { UsageError } from "./usage-error";

export const EXIT = {
  ok: 0,
  unexpected: 1,
  usage: 2,
  conflict: 3,
  notFound: 4,
  unreachable: 5,
} as const;

export interface CliIo {
  /** One line of output (stdout). */
  out(line: string): void;
  /** One line of diagnostics (stderr). */
  err(line: string): void;
  setExitCode(code: number): void;
  /** Calls `listener` on each SIGINT/SIGTERM until the returned function is called. */
  onInterrupt(listener: (signal: string) => void): () => void;
  env: NodeJS.ProcessEnv;
  /** Replaces global fetch (tests). */
  fetch?: typeof fetch;
}

export const processIo: CliIo = {
  out: (line) => {
    process.stdout.write(`${line}\n`);
  },
  err: (line) => {
    process.stderr.write(`${line}\n`);
  },
  setExitCode: (code) => {
    process.exitCode = code;
  },
  onInterrupt(listener) {
    const signals = ["SIGINT", "SIGTERM"] as const;
    for (const signal of signals) process.on(signal, listener);
    return () => {
      for (const signal of signals) process.off(signal, listener);
    };
  },
  env: process.env,
};

/** The exit code for an error. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError) return EXIT.usage;
  if (error instanceof ApiUnreachableError) return EXIT.unreachable;
  // Registering `sous worker` under an id a live instance holds.
  if (error instanceof ConflictError) return EXIT.conflict;
  if (error instanceof ApiHttpError || error instanceof ControlPlaneHttpError) {
    if (error.status === 404) return EXIT.notFound;
    if (error.status === 409 || error.status === 412) return EXIT.conflict;
    if (error.status === 400 || error.status === 415) return EXIT.usage;
  }
  return EXIT.unexpected;
}

/** Prints an error with every issue the API listed, and sets the exit code. */
export function reportError(io: CliIo, error: unknown): void {
  if (error instanceof ApiHttpError) {
    io.err(`sous: ${error.message} (HTTP ${error.status} ${error.code})`);
    for (const issue of error.issues) io.err(`  - ${issue.path ? `${issue.path}: ` : ""}${issue.message}`);
  } else {
    io.err(`sous: ${error instanceof Error ? error.message : String(error)}`);
  }
  io.setExitCode(exitCodeOf(error));
}

/** A plain-text table: a header row, then one row per item; columns padded to their widest cell. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

/** Prints a table, or `empty` when there are no rows. */
export function printTable(
  io: CliIo,
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  empty: string,
): void {
  if (rows.length === 0) {
    io.out(empty);
    return;
  }
  for (const line of formatTable(headers, rows)) io.out(line);
}

export function printJson(io: CliIo, value: unknown): void {
  io.out(JSON.stringify(value, null, 2));
}
