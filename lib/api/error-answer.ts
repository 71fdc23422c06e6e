// An API error answer as its clients see it (the CLI and the web UI): the status, the code, the
// message and every listed issue of the API's error shape (docs/api.md "Errors"), or the best
// message another shape offers (API Gateway's own refusals answer {"message": "..."}). Pure.

export interface ApiIssue {
  path?: string;
  message: string;
  value?: unknown;
}

/** An HTTP error answer; the message and issues are the API's own. */
export class ApiHttpError extends Error {
  override readonly name = "ApiHttpError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: readonly ApiIssue[],
  ) {
    super(message);
  }
}

/** The ApiHttpError of an error answer's status and parsed body (JSON, or text if not JSON). */
export function errorOfAnswer(status: number, body: unknown): ApiHttpError {
  const error = (body as { error?: unknown } | undefined | null)?.error;
  if (typeof error === "object" && error !== null) {
    const { code, message, issues } = error as { code?: unknown; message?: unknown; issues?: unknown };
    return new ApiHttpError(
      status,
      typeof code === "string" ? code : `http_${status}`,
      typeof message === "string" ? message : `HTTP ${status}`,
      Array.isArray(issues) ? (issues as ApiIssue[]) : [],
    );
  }
  const message = (body as { message?: unknown } | undefined | null)?.message;
  const text =
    typeof error === "string"
      ? error
      : typeof message === "string"
        ? message
        : typeof body === "string"
          ? body.slice(0, 500)
          : "";
  return new ApiHttpError(status, `http_${status}`, text || `HTTP ${status}`, []);
}
