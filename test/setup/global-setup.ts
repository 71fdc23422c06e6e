// Jest globalSetup for the integration and e2e projects: one pair of emulators per run.
// Workers start after this and inherit the standard endpoint variables set here.
import { emulatorEnvironment, startEmulators, type RunningEmulators } from "../../lib/local/emulators";

declare global {
  var __SOUS_EMULATORS__: RunningEmulators | undefined;
}

export default async function globalSetup(): Promise<void> {
  if (globalThis.__SOUS_EMULATORS__) return; // integration and e2e share one pair in a full run
  const started = Date.now();
  // Shared build machines can be slow to start a JVM: a generous bound, not a speed target.
  const emulators = await startEmulators({ timeoutMs: Number(process.env.SOUS_EMULATOR_TIMEOUT_MS ?? 120_000) });
  globalThis.__SOUS_EMULATORS__ = emulators;
  Object.assign(process.env, emulatorEnvironment(emulators.endpoints));
  if (process.env.EMULATOR_TIMINGS) console.log(`emulators ready in ${Date.now() - started} ms`, emulators.endpoints);
}
