// How the worker's parts put an unknown thrown value into an event: "Name: message".
export function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
