// How the worker's parts put an unknown thrown value into text.

/** "Name: message", for events. */
export function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** The message alone, for a task's result (`spawnError`, `outputError`). */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
