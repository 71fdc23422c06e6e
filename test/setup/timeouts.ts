// Generous per-test timeouts for tests that talk to the emulators or run subprocesses: the
// build machines are shared, so these bound hangs, not speed.
jest.setTimeout(Number(process.env.SOUS_TEST_TIMEOUT_MS ?? 60000));
