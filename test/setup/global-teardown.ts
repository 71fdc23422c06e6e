// Jest globalTeardown: stops the emulators started by global-setup.ts (runs even when tests fail).
export default async function globalTeardown(): Promise<void> {
  const emulators = globalThis.__SOUS_EMULATORS__;
  globalThis.__SOUS_EMULATORS__ = undefined;
  await emulators?.stop();
}
