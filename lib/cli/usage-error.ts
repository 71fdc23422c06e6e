// The CLI's error for a command used wrongly (a bad flag, an unreadable config file): it exits
// with the usage code (lib/cli/io.ts) and prints only its message.
export class UsageError extends Error {
  override readonly name = "UsageError";
}
