// What a Kubernetes API answer that is not 2xx means, in one line. client-node
// 1.x throws ApiException with the HTTP code and the Status object as `body`
// (a string when the answer was not JSON); a failure to reach the API server at
// all is a plain Error (a FetchError with a `code` such as ECONNREFUSED).

/** The HTTP status of a failed API call, or undefined when the server was not reached. */
export function apiStatus(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

export function isNotFound(error: unknown): boolean {
  return apiStatus(error) === 404;
}

export function isConflict(error: unknown): boolean {
  return apiStatus(error) === 409;
}

/** `409 Conflict: Operation cannot be fulfilled ...`, or the network error's code and message. */
export function describeApiError(error: unknown): string {
  const status = apiStatus(error);
  if (status === undefined) {
    const code = (error as { code?: unknown } | undefined)?.code;
    const message = error instanceof Error ? error.message : String(error);
    return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
  }
  const body = parseBody((error as { body?: unknown }).body);
  const reason = typeof body?.reason === 'string' ? ` ${body.reason}` : '';
  const message = typeof body?.message === 'string' ? `: ${body.message}` : '';
  return `${status}${reason}${message}`;
}

function parseBody(body: unknown): Record<string, unknown> | undefined {
  if (typeof body === 'object' && body !== null) return body as Record<string, unknown>;
  if (typeof body !== 'string') return undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
