// `sous ui`: serves the web UI on this machine for any Sous API, the way `kubectl proxy` serves
// a cluster's API: the browser talks only to 127.0.0.1, and each request it makes is forwarded
// to the API signed with the user's AWS credentials (SigV4) when the API is a deployed stack.
import { serveUi } from "../ui/server";
import { isLoopbackUrl, resolveApiUrl, signerFor } from "./client";
import type { CliIo } from "./io";

export interface UiCommandOptions {
  api?: string;
  port: number;
}

/** Serves until interrupted (Ctrl-C, SIGTERM). */
export async function uiCommand(io: CliIo, options: UiCommandOptions): Promise<void> {
  const apiUrl = resolveApiUrl(options.api, io.env);
  const signer = signerFor(apiUrl, io.env);
  const server = await serveUi({
    apiUrl,
    signer,
    port: options.port,
    onProxyError: (error) => {
      io.err(`sous ui: cannot reach ${apiUrl}: ${error instanceof Error ? error.message : String(error)}`);
    },
  });
  io.out(`Sous web UI for ${apiUrl}: ${server.url}`);
  io.out(
    isLoopbackUrl(apiUrl)
      ? "Requests go to the API unsigned (it is on this machine)."
      : "Each request is signed with your AWS credentials (SigV4); only this machine can reach the UI.",
  );
  io.out("Ctrl-C stops it.");
  await new Promise<void>((resolve) => {
    const unsubscribe = io.onInterrupt(() => {
      unsubscribe();
      resolve();
    });
  });
  await server.close();
}
