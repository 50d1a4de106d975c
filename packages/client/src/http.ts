/**
 * One HTTP exchange over an injectable fetch, with a deadline and the caller's AbortSignal, mapped to
 * ClientError: the API's error body gives the code; a timeout is CLIENT_TIMEOUT, a failure before an
 * answer CLIENT_NETWORK, the caller's abort CLIENT_ABORTED. The deadline covers the body too.
 */
import { ClientError, clientError } from "./errors.js";
import { response_chars_max } from "./limits.js";

/** The slice of fetch the client uses (globalThis.fetch, or a test double). */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** A request: the URL as sent, and what fetch needs. */
export interface HttpRequest {
  readonly url: string;
  readonly method: "GET" | "POST";
  readonly headers: Record<string, string>;
  readonly body?: string;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/** An exchange in progress: its controller aborts it, its deadline can be cleared once headers arrived. */
export interface Exchange {
  readonly response: Response;
  readonly controller: AbortController;
  /** Stops the deadline (for streams that stay open) and unlinks the caller's signal when `unlink`. */
  settle(unlink?: boolean): void;
  /** Maps an error thrown while the exchange runs (fetch, body reads) to a ClientError. */
  mapError(error: unknown): ClientError;
}

/** Sends `request`; resolves when the headers arrived. */
export async function send(fetch: FetchLike, request: HttpRequest): Promise<Exchange> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, request.timeoutMs);
  const onAbort = () => controller.abort();
  if (request.signal?.aborted === true) controller.abort();
  request.signal?.addEventListener("abort", onAbort, { once: true });
  const settle = (unlink = true) => {
    clearTimeout(timer);
    if (unlink) request.signal?.removeEventListener("abort", onAbort);
  };
  const mapError = (error: unknown): ClientError => {
    if (error instanceof ClientError) return error;
    if (timedOut) {
      return clientError(
        "CLIENT_TIMEOUT",
        `${request.method} ${request.url}: no answer within ${request.timeoutMs} ms`,
        { cause: error },
      );
    }
    if (request.signal?.aborted === true || controller.signal.aborted) {
      return clientError("CLIENT_ABORTED", `${request.method} ${request.url}: aborted`, { cause: error });
    }
    const message = error instanceof Error ? error.message : String(error);
    return clientError("CLIENT_NETWORK", `${request.method} ${request.url}: ${message}`, { cause: error });
  };
  try {
    const response = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      ...(request.body === undefined ? {} : { body: request.body }),
      signal: controller.signal,
    });
    return { response, controller, settle, mapError };
  } catch (error) {
    settle();
    throw mapError(error);
  }
}

/** Sends `request` and reads the whole body as text; returns the status, headers and text. */
export async function exchange(
  fetch: FetchLike,
  request: HttpRequest,
): Promise<{ status: number; headers: Headers; text: string }> {
  const { response, settle, mapError } = await send(fetch, request);
  try {
    const text = await response.text();
    if (text.length > response_chars_max) {
      throw clientError(
        "CLIENT_RESPONSE_INVALID",
        `the answer is longer than ${response_chars_max} characters`,
      );
    }
    return { status: response.status, headers: response.headers, text };
  } catch (error) {
    throw mapError(error);
  } finally {
    settle();
  }
}

/** The ClientError of a non-success answer: the API's error body, or CLIENT_HTTP_ERROR. */
export function errorOf(status: number, headers: Headers, text: string, what: string): ClientError {
  const retryAfter = retryAfterSeconds(headers);
  const body = parseJson(text);
  const error = isRecord(body) && isRecord(body.error) ? body.error : null;
  if (error !== null && typeof error.code === "string" && typeof error.message === "string") {
    const details: Record<string, string | number> = {};
    for (const name of ["field", "reason", "decision", "tx"] as const) {
      const value = error[name];
      if (typeof value === "string") details[name] = value;
    }
    if (retryAfter !== undefined) details.retryAfterSeconds = retryAfter;
    return new ClientError(error.code, status, error.message, details);
  }
  return new ClientError("CLIENT_HTTP_ERROR", status, `${what}: HTTP ${status} without an API error body`, {
    ...(retryAfter === undefined ? {} : { retryAfterSeconds: retryAfter }),
  });
}

/** JSON.parse, or undefined. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function retryAfterSeconds(headers: Headers): number | undefined {
  const value = headers.get("retry-after");
  if (value === null || !/^[0-9]{1,6}$/.test(value.trim())) return undefined;
  return Number(value.trim());
}
